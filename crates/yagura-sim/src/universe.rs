//! The outside world: the web sites the estate visits, mail senders and external addresses.
//!
//! Shared read-only by every organization's generator; a pure function of the seed.

use std::net::Ipv4Addr;

use crate::rng::{SimRng, Zipf, mix64};

/// Well-known sites at the head of the popularity curve (benign, real names: warning lists
/// and top-site lists must recognise them).
pub const TOP_SITES: &[&str] = &[
    "www.google.com",
    "www.yahoo.co.jp",
    "www.microsoft.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "www.youtube.com",
    "news.yahoo.co.jp",
    "www.amazon.co.jp",
    "www.nhk.or.jp",
    "www.e-gov.go.jp",
    "ja.wikipedia.org",
    "www.office.com",
    "teams.microsoft.com",
    "www.bing.com",
    "www.rakuten.co.jp",
    "www.nikkei.com",
    "www.asahi.com",
    "www.yomiuri.co.jp",
    "mainichi.jp",
    "www.jma.go.jp",
    "weathernews.jp",
    "tenki.jp",
    "github.com",
    "www.apple.com",
    "zoom.us",
    "www.line.me",
    "x.com",
    "www.facebook.com",
    "www.instagram.com",
    "www.jreast.co.jp",
    "transit.yahoo.co.jp",
    "www.jalan.net",
    "kakaku.com",
    "www.mhlw.go.jp",
    "www.soumu.go.jp",
    "www.cao.go.jp",
    "www.nisc.go.jp",
    "www.ipa.go.jp",
    "www.jpcert.or.jp",
    "www.jstage.jst.go.jp",
    "scholar.google.com",
    "docs.google.com",
    "drive.google.com",
    "www.dropbox.com",
    "www.adobe.com",
    "www.cybozu.com",
    "www.nta.go.jp",
    "www.boj.or.jp",
    "www.stat.go.jp",
    "www.mofa.go.jp",
];

/// Hosts that serve sub-resources of many pages (CDNs, analytics, fonts); several look random.
pub const CDN_HOSTS: &[&str] = &[
    "fonts.gstatic.com",
    "fonts.googleapis.com",
    "www.google-analytics.com",
    "www.googletagmanager.com",
    "ajax.googleapis.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "s.yimg.jp",
    "yads.c.yimg.jp",
    "d2c8v52ll5s99u.cloudfront.net",
    "d1l6p2sc9645hc.cloudfront.net",
    "dxbhsrqyrr690.cloudfront.net",
    "e7418.dscg.akamaiedge.net",
    "e12596.dscb.akamaiedge.net",
    "r3---sn-oguelnzr.googlevideo.com",
    "r1---sn-3pm7kn7z.googlevideo.com",
    "static.xx.fbcdn.net",
    "pbs.twimg.com",
    "i.ytimg.com",
    "assets.adobedtm.com",
];

/// Estate-wide periodic software (antivirus and OS update heartbeats).
pub const AV_HEARTBEAT: &str = "hb.kumoshield-av.com";
pub const UPDATE_CHECK: &str = "ctldl.windowsupdate.com";

const WORDS: &[&str] = &[
    "sakura", "yama", "kawa", "umi", "sora", "hikari", "midori", "aozora", "tsuki", "hoshi",
    "kaze", "mori", "hana", "yuki", "machi", "shop", "news", "tech", "life", "food", "travel",
    "book", "market", "studio", "design", "labo", "net", "info", "blog", "daily", "style", "home",
    "work", "career", "health", "clinic", "school", "garden", "auto", "photo", "music", "game",
    "sports", "style", "kitchen", "cafe", "denki", "kenko", "jinzai", "fudosan",
];
const ONE_OFF_TLDS: &[&str] = &["jp", "co.jp", "com", "net", "or.jp", "ne.jp", "org", "info"];

/// User agents of the estate's browsers.
pub const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

/// Public-looking first octets of benign addresses. Campaign infrastructure lives in the
/// documentation ranges and 185.x/45.x, intel decoys in 46.x/91.x/193.x: disjoint by
/// construction, so a benign connection can never hit an indicator or a truth entity.
const BENIGN_FIRST_OCTETS: &[u8] = &[
    13, 20, 23, 34, 35, 40, 52, 54, 59, 60, 61, 104, 106, 110, 118, 133, 140, 142, 150, 151, 153,
    157, 160, 163, 172, 180, 182, 202, 210, 211, 219, 220,
];

/// A stable public address for a benign host name.
pub fn benign_ip(host: &str) -> Ipv4Addr {
    let h = mix64(host.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    }));
    let first = BENIGN_FIRST_OCTETS
        .get((h % BENIGN_FIRST_OCTETS.len() as u64) as usize)
        .copied()
        .unwrap_or(13);
    // 172 is public only outside 172.16.0.0/12.
    let second = if first == 172 {
        64 + (h >> 8) as u8 % 128
    } else {
        (h >> 8) as u8
    };
    Ipv4Addr::new(first, second, (h >> 16) as u8, 1 + (h >> 24) as u8 % 254)
}

#[derive(Debug, Clone)]
pub struct Site {
    pub host: String,
    pub ip: Ipv4Addr,
    pub https: bool,
}

/// The outside world of one exercise.
#[derive(Debug, Clone)]
pub struct Universe {
    pub sites: Vec<Site>,
    pub popularity: Zipf,
    pub cdn: Vec<Site>,
    /// CDN popularity (a few shared hosts serve most sub-resources).
    pub cdn_popularity: Zipf,
    /// External mail senders (partners, vendors, newsletters): (address, display name, MTA host).
    pub senders: Vec<(String, String, String)>,
}

impl Universe {
    pub fn new(seed: u64, n_sites: usize) -> Universe {
        let mut rng = SimRng::new(seed, "universe");
        let mut sites: Vec<Site> = TOP_SITES
            .iter()
            .map(|h| Site {
                host: (*h).to_owned(),
                ip: benign_ip(h),
                https: true,
            })
            .collect();
        let mut seen: std::collections::HashSet<String> =
            sites.iter().map(|s| s.host.clone()).collect();
        while sites.len() < n_sites {
            let mut host = String::from("www.");
            if rng.chance(0.3) {
                host.clear();
            }
            host.push_str(rng.pick(WORDS).copied().unwrap_or("net"));
            host.push_str(rng.pick(WORDS).copied().unwrap_or("info"));
            host.push('.');
            host.push_str(rng.pick(ONE_OFF_TLDS).copied().unwrap_or("jp"));
            if seen.insert(host.clone()) {
                sites.push(Site {
                    ip: benign_ip(&host),
                    https: rng.chance(0.85),
                    host,
                });
            }
        }
        let cdn = CDN_HOSTS
            .iter()
            .map(|h| Site {
                host: (*h).to_owned(),
                ip: benign_ip(h),
                https: true,
            })
            .collect();
        let mut senders = Vec::new();
        let names = [
            "info", "news", "support", "noreply", "contact", "sales", "jimu",
        ];
        for k in 0..300 {
            let site = sites.get(TOP_SITES.len() + k * 7 % (n_sites - TOP_SITES.len()).max(1));
            let Some(site) = site else { break };
            let domain = site.host.trim_start_matches("www.").to_owned();
            let local = names.get(k % names.len()).copied().unwrap_or("info");
            senders.push((
                format!("{local}@{domain}"),
                format!("{} {}", domain.split('.').next().unwrap_or("info"), local),
                format!("mail{}.{domain}", k % 3 + 1),
            ));
        }
        Universe {
            popularity: Zipf::new(sites.len(), 1.0),
            cdn_popularity: Zipf::new(CDN_HOSTS.len(), 1.2),
            sites,
            cdn,
            senders,
        }
    }

    /// A host name seen only today by this organization (the long tail of the web).
    pub fn one_off(rng: &mut SimRng, out: &mut String) {
        out.clear();
        if rng.chance(0.5) {
            out.push_str("www.");
        }
        out.push_str(rng.pick(WORDS).copied().unwrap_or("net"));
        out.push_str(rng.pick(WORDS).copied().unwrap_or("info"));
        let n = rng.below(10_000);
        let mut b = itoa::Buffer::new();
        out.push_str(b.format(n));
        out.push('.');
        out.push_str(rng.pick(ONE_OFF_TLDS).copied().unwrap_or("jp"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benign_addresses_are_public_and_stable() {
        for h in TOP_SITES.iter().chain(CDN_HOSTS) {
            let ip = benign_ip(h);
            assert!(
                !ip.is_private() && !ip.is_loopback() && !ip.is_documentation(),
                "{h} {ip}"
            );
            assert_eq!(ip, benign_ip(h));
        }
    }

    #[test]
    fn universe_is_deterministic_and_unique() {
        let a = Universe::new(5, 3000);
        let b = Universe::new(5, 3000);
        assert_eq!(a.sites.len(), 3000);
        assert!(a.sites.iter().zip(&b.sites).all(|(x, y)| x.host == y.host));
        let mut hosts: Vec<&str> = a.sites.iter().map(|s| s.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        assert_eq!(hosts.len(), 3000);
    }
}
