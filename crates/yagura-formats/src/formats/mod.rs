//! One parser per format. Each turns one line (borrowed text) into a [`Step`].

use yagura_model::{Event, Timestamp};

use crate::detect::Format;

pub(crate) mod cef;
pub(crate) mod json;
pub(crate) mod json_de;
pub(crate) mod json_fast;
pub(crate) mod mailgw;
pub(crate) mod postfix;
pub(crate) mod refill;
pub(crate) mod squid;
pub(crate) mod suricata;
pub(crate) mod syslog;
pub(crate) mod tree_pool;
pub(crate) mod w3c;
pub(crate) mod windows;
pub(crate) mod zeek;

/// What a line became.
///
/// Hot parsers write into the caller's event and answer [`Step::Filled`]: an [`Event`] is
/// about 2 KiB, and every move of it is a `memcpy` of that size, so the reader builds it in
/// place and hands it out once. `Step::Event` (by value) remains for the colder formats and
/// for events a parser held back (Postfix).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step {
    /// The event was written into the `out` argument of [`LineParser::parse_into`].
    Filled,
    Event(Event),
    /// A header, comment or blank line, or a line folded into a later event (Postfix).
    Skip,
    Reject(String),
}

impl From<Result<Event, String>> for Step {
    fn from(r: Result<Event, String>) -> Step {
        match r {
            Ok(e) => Step::Event(e),
            Err(e) => Step::Reject(e),
        }
    }
}

/// What a parser may know about its file besides the lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParseCtx {
    /// The file's name without directories (Zeek JSON without `_path`, headerless Zeek TSV).
    pub file_name: String,
    /// Reference time for syslog stamps without a year.
    pub syslog_reference: Option<Timestamp>,
}

pub(crate) trait LineParser {
    /// `line` has no terminator; `line_no` is 1-based. Never answers [`Step::Filled`].
    fn parse(&mut self, line: &str, line_no: u64) -> Step;
    /// Like [`LineParser::parse`], but may build the event in `out` (which holds
    /// `Event::default()` on entry) and answer [`Step::Filled`]. On [`Step::Skip`] `out` must
    /// be left untouched; on [`Step::Reject`] it may hold a partial event (the caller drops it).
    fn parse_into(&mut self, line: &str, line_no: u64, out: &mut Event) -> Step {
        let _ = out;
        self.parse(line, line_no)
    }
    /// Called by [`crate::FileReader::next_into`] with the caller's event just before it is
    /// reset for the next record: a parser may take back the buffers it filled last time
    /// (emptied, capacity kept) instead of letting the reset free them and allocating them
    /// again. Whatever it leaves in `ev` is reset as usual.
    fn recycle(&mut self, ev: &mut Event) {
        let _ = ev;
    }
    /// End of input: events still held (Postfix messages not yet removed).
    fn finish(&mut self) -> Vec<(u64, Step)> {
        Vec::new()
    }
}

pub(crate) fn parser_for(format: Format, ctx: ParseCtx) -> Box<dyn LineParser + Send> {
    match format {
        Format::Squid => Box::new(squid::Native::default()),
        Format::SquidCommon => Box::new(squid::Common),
        Format::W3c => Box::new(w3c::W3c::default()),
        Format::ZeekTsv => Box::new(zeek::Tsv::new(&ctx.file_name)),
        Format::ZeekJson => Box::new(zeek::Json::new(&ctx.file_name)),
        Format::SuricataEve => Box::new(suricata::Eve::default()),
        Format::EvtxJson => Box::new(windows::EvtxJson::default()),
        Format::Winlogbeat | Format::Ecs => Box::new(json::Ecs::default()),
        Format::Syslog | Format::Cef => Box::new(syslog::Syslog::new(ctx.syslog_reference)),
        Format::MailGw => Box::new(mailgw::MailGw::default()),
        Format::Postfix => Box::new(postfix::Postfix::new(ctx.syslog_reference)),
        // Binary evtx never reaches the line parsers; if forced on a text stream, each line is
        // rejected with the reason.
        Format::Evtx => Box::new(json::Lines(|_: &str| -> Result<Event, String> {
            Err("not an .evtx file (no ElfFile signature)".to_owned())
        })),
    }
}

/// Runs a by-value parser for [`LineParser::parse`] on top of a `parse_into` one.
pub(crate) fn by_value(f: impl FnOnce(&mut Event) -> Result<(), String>) -> Result<Event, String> {
    let mut ev = Event::default();
    f(&mut ev)?;
    Ok(ev)
}

/// Common `event.*` setup.
pub(crate) fn base(
    ev: &mut Event,
    dataset: impl Into<yagura_model::Str>,
    kind: &'static str,
    category: &[&'static str],
    ty: &[&'static str],
) {
    use yagura_model::Str;
    use yagura_model::event::Tags;
    // The constant parts as `Str::const_new` (no copy through the general constructor), the
    // tags pushed one by one (no `Extend` for the usual one or two).
    fn tags(t: &[&'static str]) -> Tags {
        let mut out = Tags::new();
        for c in t {
            out.push(Str::const_new(c));
        }
        out
    }
    ev.event.dataset = Some(dataset.into());
    ev.event.kind = Some(Str::const_new(kind));
    ev.event.category = tags(category);
    ev.event.kind_type = tags(ty);
}
