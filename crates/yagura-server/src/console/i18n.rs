//! Console text: one catalogue per language ([`en`], [`ja`]), both exhaustive over [`Key`]
//! (the compiler refuses a key missing from either).

use axum::http::HeaderMap;

/// Console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

/// Cookie remembering the language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "yagura_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// `?lang=` first, then the cookie, then `Accept-Language` (Japanese if it comes first),
    /// else Japanese (the console's users are a Japanese center's staff).
    pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query_lang.and_then(Lang::parse) {
            return l;
        }
        if let Some(l) = crate::auth::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match accept.split(',').next().map(|s| s.trim()) {
            Some(first) if first.starts_with("en") => Lang::En,
            _ => Lang::Ja,
        }
    }

    pub fn t(self, k: Key) -> &'static str {
        match self {
            Lang::En => en(k),
            Lang::Ja => ja(k),
        }
    }
}

/// Every string the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AppName,
    Dashboard,
    Alerts,
    Incidents,
    Organizations,
    Hunt,
    Advisories,
    Logout,
    Login,
    Username,
    Password,
    LoginFailed,
    LoginThrottled,
    AlertsPerDay,
    AlertsPerOrg,
    AlertsPerSeverity,
    TopDetections,
    OpenIncidents,
    OpenAdvisories,
    Overdue,
    NoData,
    Time,
    Organization,
    Severity,
    Detector,
    Rule,
    Title,
    Status,
    Count,
    Entities,
    Summary,
    Evidence,
    EvidenceUnavailable,
    RawRecord,
    NormalizedEvent,
    Filter,
    Any,
    Text,
    Apply,
    SetStatus,
    Selected,
    Previous,
    Next,
    Of,
    Incident,
    Timeline,
    Campaign,
    Hosts,
    Users,
    Destinations,
    Assignee,
    FirstSeen,
    LastSeen,
    NoIncidents,
    NoIncidentsHint,
    AlertsByDestination,
    Kind,
    Sector,
    MonitoredBy,
    Networks,
    HuntHint,
    Campaigns,
    NoEventStore,
    HuntNotAllowed,
    Indicators,
    From,
    To,
    Events,
    Dataset,
    Source,
    Destination,
    Matched,
    AlertsMentioning,
    Search,
    Results,
    IssueAdvisory,
    RecommendedMeasures,
    OneMeasurePerLine,
    DueInDays,
    Issue,
    Due,
    Steps,
    Acknowledge,
    ReportMeasures,
    Close,
    Note,
    MeasuresTaken,
    Actor,
    Forbidden,
    NotFound,
    BadRequest,
    Conflict,
    ServerError,
    Back,
    Role,
    UtcDays,
    Updated,
    AlertsOfRule,
    Alert,
}

/// English.
pub fn en(k: Key) -> &'static str {
    use Key::*;
    match k {
        AppName => "yagura",
        Dashboard => "Dashboard",
        Alerts => "Alerts",
        Incidents => "Incidents",
        Organizations => "Organizations",
        Hunt => "Hunt",
        Advisories => "Advisories",
        Logout => "Log out",
        Login => "Log in",
        Username => "User name",
        Password => "Password",
        LoginFailed => "Invalid user name or password.",
        LoginThrottled => "Too many failed logins; try again later.",
        AlertsPerDay => "Alerts per day",
        AlertsPerOrg => "Alerts per organization",
        AlertsPerSeverity => "Alerts per severity",
        TopDetections => "Top detections",
        OpenIncidents => "Open incidents",
        OpenAdvisories => "Open advisories",
        Overdue => "overdue",
        NoData => "Nothing yet.",
        Time => "Time",
        Organization => "Organization",
        Severity => "Severity",
        Detector => "Detector",
        Rule => "Rule",
        Title => "Title",
        Status => "Status",
        Count => "Count",
        Entities => "Entities",
        Summary => "Summary",
        Evidence => "Evidence",
        EvidenceUnavailable => "The source record is not available on this server.",
        RawRecord => "Source record",
        NormalizedEvent => "Normalized event",
        Filter => "Filter",
        Any => "any",
        Text => "Text",
        Apply => "Apply",
        SetStatus => "Set status of selected",
        Selected => "selected",
        Previous => "Previous",
        Next => "Next",
        Of => "of",
        Incident => "Incident",
        Timeline => "Timeline",
        Campaign => "Campaign",
        Hosts => "Hosts",
        Users => "Users",
        Destinations => "Destinations",
        Assignee => "Assignee",
        FirstSeen => "First seen",
        LastSeen => "Last seen",
        NoIncidents => "No incidents are stored yet.",
        NoIncidentsHint => "Alerts grouped by destination, across organizations:",
        AlertsByDestination => "Alerts by destination",
        Kind => "Kind",
        Sector => "Sector",
        MonitoredBy => "Monitored by",
        Networks => "Networks",
        HuntHint => {
            "Hunt the stored events for indicators — IP addresses, domains (subdomains match), URLs, hashes, accounts, file names — in a time range (UTC). Alerts mentioning them are listed too."
        }
        Campaigns => "Campaigns (several organizations, shared infrastructure)",
        NoEventStore => "This server keeps no event store: only alerts are searched.",
        HuntNotAllowed => "Your role does not search raw events: only alerts are searched.",
        Indicators => "Indicators (separated by spaces, commas or lines)",
        From => "From",
        To => "To",
        Events => "Stored events",
        Dataset => "Dataset",
        Source => "Source",
        Destination => "Destination",
        Matched => "Matched",
        AlertsMentioning => "Alerts mentioning these values",
        Search => "Search",
        Results => "results",
        IssueAdvisory => "Issue an advisory to the organization",
        RecommendedMeasures => "Recommended measures",
        OneMeasurePerLine => "one per line",
        DueInDays => "Due in (days)",
        Issue => "Issue advisory",
        Due => "Due",
        Steps => "Steps",
        Acknowledge => "Acknowledge",
        ReportMeasures => "Report measures taken",
        Close => "Close",
        Note => "Note",
        MeasuresTaken => "Measures taken",
        Actor => "By",
        Forbidden => "Your role may not do this.",
        NotFound => "Not found.",
        BadRequest => "The request is not valid",
        Conflict => "This step is not possible now",
        ServerError => "Internal error.",
        Back => "Back",
        Role => "Role",
        UtcDays => "UTC days",
        Updated => "Updated",
        AlertsOfRule => "alerts",
        Alert => "Alert",
    }
}

/// 日本語.
pub fn ja(k: Key) -> &'static str {
    use Key::*;
    match k {
        AppName => "櫓 yagura",
        Dashboard => "ダッシュボード",
        Alerts => "アラート",
        Incidents => "インシデント",
        Organizations => "組織",
        Hunt => "ハンティング",
        Advisories => "注意喚起",
        Logout => "ログアウト",
        Login => "ログイン",
        Username => "ユーザー名",
        Password => "パスワード",
        LoginFailed => "ユーザー名またはパスワードが正しくありません。",
        LoginThrottled => "ログインの失敗が多すぎます。しばらくしてから再試行してください。",
        AlertsPerDay => "日別アラート件数",
        AlertsPerOrg => "組織別アラート件数",
        AlertsPerSeverity => "重大度別アラート件数",
        TopDetections => "主な検知",
        OpenIncidents => "対応中のインシデント",
        OpenAdvisories => "未完了の注意喚起",
        Overdue => "期限超過",
        NoData => "まだありません。",
        Time => "時刻",
        Organization => "組織",
        Severity => "重大度",
        Detector => "検知器",
        Rule => "ルール",
        Title => "件名",
        Status => "状態",
        Count => "件数",
        Entities => "対象",
        Summary => "概要",
        Evidence => "根拠",
        EvidenceUnavailable => "このサーバーでは元のログを参照できません。",
        RawRecord => "元のログ",
        NormalizedEvent => "正規化イベント",
        Filter => "絞り込み",
        Any => "すべて",
        Text => "文字列",
        Apply => "適用",
        SetStatus => "選択したアラートの状態を変更",
        Selected => "選択",
        Previous => "前へ",
        Next => "次へ",
        Of => "/",
        Incident => "インシデント",
        Timeline => "時系列",
        Campaign => "キャンペーン",
        Hosts => "ホスト",
        Users => "ユーザー",
        Destinations => "通信先",
        Assignee => "担当者",
        FirstSeen => "初回検知",
        LastSeen => "最終検知",
        NoIncidents => "インシデントはまだ登録されていません。",
        NoIncidentsHint => "通信先ごとのアラート（組織横断）:",
        AlertsByDestination => "通信先別アラート",
        Kind => "種別",
        Sector => "分野",
        MonitoredBy => "監視元",
        Networks => "ネットワーク",
        HuntHint => {
            "保存されたイベントを指標（IP アドレス、ドメイン（サブドメインも一致）、URL、ハッシュ、アカウント、ファイル名）と期間（UTC）で検索します。指標に言及するアラートも表示します。"
        }
        Campaigns => "キャンペーン（複数組織・共通インフラ）",
        NoEventStore => "このサーバーにはイベントストアがありません。アラートのみを検索します。",
        HuntNotAllowed => "このロールでは生イベントを検索できません。アラートのみを検索します。",
        Indicators => "指標（空白・カンマ・改行区切り）",
        From => "開始",
        To => "終了",
        Events => "保存イベント",
        Dataset => "データセット",
        Source => "送信元",
        Destination => "宛先",
        Matched => "一致した指標",
        AlertsMentioning => "これらの値に言及するアラート",
        Search => "検索",
        Results => "件",
        IssueAdvisory => "組織へ注意喚起を発出",
        RecommendedMeasures => "推奨対策",
        OneMeasurePerLine => "1 行に 1 件",
        DueInDays => "期限（日後）",
        Issue => "注意喚起を発出",
        Due => "期限",
        Steps => "経過",
        Acknowledge => "受領",
        ReportMeasures => "実施した対策を報告",
        Close => "完了",
        Note => "メモ",
        MeasuresTaken => "実施済み対策",
        Actor => "実施者",
        Forbidden => "この操作を行う権限がありません。",
        NotFound => "見つかりません。",
        BadRequest => "リクエストが正しくありません",
        Conflict => "現在この操作はできません",
        ServerError => "内部エラーが発生しました。",
        Back => "戻る",
        Role => "ロール",
        UtcDays => "UTC 日付",
        Updated => "更新",
        AlertsOfRule => "件",
        Alert => "アラート",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_negotiation() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::negotiate(None, &h), Lang::Ja);
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            "en-US,en;q=0.9".parse().unwrap(),
        );
        assert_eq!(Lang::negotiate(None, &h), Lang::En);
        h.insert(
            axum::http::header::COOKIE,
            "yagura_lang=ja".parse().unwrap(),
        );
        assert_eq!(Lang::negotiate(None, &h), Lang::Ja);
        assert_eq!(Lang::negotiate(Some("en"), &h), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr"), &h), Lang::Ja);
    }

    #[test]
    fn catalogues_differ_where_they_should() {
        // Every navigation label is translated (not left in English).
        for k in [
            Key::Dashboard,
            Key::Alerts,
            Key::Incidents,
            Key::Organizations,
            Key::Hunt,
            Key::Advisories,
        ] {
            assert_ne!(en(k), ja(k), "{k:?}");
            assert!(!ja(k).is_ascii(), "{k:?}");
        }
    }
}
