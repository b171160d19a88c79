//! Per-organization output: one stream per log file, merged in time order hour by hour.
//!
//! Generators append rendered lines to a stream's arena in any order; at the end of each
//! simulated hour the stream sorts its entries by time (stably, so ties keep generation order
//! and output stays deterministic) and writes them. Windows records get their
//! `EventRecordID` at that moment, so record numbers increase in file order as in a real log.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;

use crate::SimError;
use crate::estate::{FirewallFormat, NetFormat, OrgPlan, WebFormat};
use crate::records::*;
use crate::render;

#[derive(Debug, Clone, Copy)]
struct Entry {
    ts: i64,
    start: usize,
    /// Where the stream's sequence number is inserted (`== end` for none).
    mid: usize,
    end: usize,
}

/// One output file.
#[derive(Debug)]
pub struct Stream {
    path: PathBuf,
    out: BufWriter<File>,
    arena: Vec<u8>,
    idx: Vec<Entry>,
    seq: u64,
    lines: u64,
}

impl Stream {
    fn create(path: PathBuf) -> Result<Stream, SimError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
        }
        let file = File::create(&path).map_err(|e| SimError::io(&path, e))?;
        Ok(Stream {
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            arena: Vec::with_capacity(1 << 20),
            idx: Vec::new(),
            seq: 0,
            lines: 0,
        })
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), SimError> {
        self.out
            .write_all(bytes)
            .map_err(|e| SimError::io(&self.path, e))
    }

    /// Appends an entry of `lines` lines rendered by `f`.
    fn push(&mut self, ts: i64, lines: u64, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.arena.len();
        f(&mut self.arena);
        let end = self.arena.len();
        self.idx.push(Entry {
            ts,
            start,
            mid: end,
            end,
        });
        self.lines += lines;
    }

    /// Appends one line with the sequence number inserted between `pre` and `post`.
    fn push_seq(
        &mut self,
        ts: i64,
        pre: impl FnOnce(&mut Vec<u8>),
        post: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.arena.len();
        pre(&mut self.arena);
        let mid = self.arena.len();
        post(&mut self.arena);
        let end = self.arena.len();
        self.idx.push(Entry {
            ts,
            start,
            mid,
            end,
        });
        self.lines += 1;
    }

    fn flush(&mut self) -> Result<(), SimError> {
        self.idx.sort_by_key(|e| e.ts);
        let mut num = itoa::Buffer::new();
        for e in &self.idx {
            let (Some(a), Some(b)) = (self.arena.get(e.start..e.mid), self.arena.get(e.mid..e.end))
            else {
                continue;
            };
            self.out
                .write_all(a)
                .map_err(|err| SimError::io(&self.path, err))?;
            if e.mid != e.end {
                self.seq += 1;
                self.out
                    .write_all(num.format(self.seq).as_bytes())
                    .map_err(|err| SimError::io(&self.path, err))?;
            }
            self.out
                .write_all(b)
                .map_err(|err| SimError::io(&self.path, err))?;
        }
        self.idx.clear();
        self.arena.clear();
        Ok(())
    }

    fn close(mut self, trailer: &[u8]) -> Result<(PathBuf, u64), SimError> {
        self.flush()?;
        self.raw(trailer)?;
        self.out.flush().map_err(|e| SimError::io(&self.path, e))?;
        Ok((self.path, self.lines))
    }
}

/// Counts of what one organization's sink wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Lines per file (path relative to the output directory).
    pub files: BTreeMap<String, u64>,
}

impl SinkStats {
    pub fn events(&self) -> u64 {
        self.files.values().sum()
    }
}

/// All of one organization's log files.
#[derive(Debug)]
pub struct OrgSink {
    root: PathBuf,
    web: WebFormat,
    net: NetFormat,
    fw_format: Option<FirewallFormat>,
    proxy: Option<Stream>,
    dns: Option<Stream>,
    conn: Option<Stream>,
    eve: Option<Stream>,
    windows: Stream,
    mail: Stream,
    fw: Option<Stream>,
    fw_host: String,
    /// The explicit web proxy the Suricata sensor sees clients talk to.
    proxy_addr: Ipv4Addr,
    /// The organization's own network: firewall drops of traffic leaving it were seen on
    /// the internal core by the network sensor first.
    internal: Ipv4Net,
    uptime_base_s: i64,
    close_ns: i64,
}

impl OrgSink {
    pub fn create(
        dir: &Path,
        plan: &OrgPlan,
        open_ns: i64,
        close_ns: i64,
    ) -> Result<Self, SimError> {
        let root = dir.to_path_buf();
        let org = dir.join(plan.id());
        let f = plan.formats;
        let proxy = match f.web {
            WebFormat::Squid => Some(Stream::create(org.join("proxy/access.log"))?),
            WebFormat::Eve => None,
        };
        let eve = if f.web == WebFormat::Eve || f.net == NetFormat::Eve {
            Some(Stream::create(org.join("suricata/eve.json"))?)
        } else {
            None
        };
        let (dns, conn) = match f.net {
            NetFormat::Eve => (None, None),
            NetFormat::ZeekTsv | NetFormat::ZeekJson => {
                let mut dns = Stream::create(org.join("zeek/dns.log"))?;
                let mut conn = Stream::create(org.join("zeek/conn.log"))?;
                if f.net == NetFormat::ZeekTsv {
                    let mut h = Vec::new();
                    render::zeek_header(
                        &mut h,
                        "dns",
                        open_ns,
                        render::ZEEK_DNS_FIELDS,
                        render::ZEEK_DNS_TYPES,
                    );
                    dns.raw(&h)?;
                    h.clear();
                    render::zeek_header(
                        &mut h,
                        "conn",
                        open_ns,
                        render::ZEEK_CONN_FIELDS,
                        render::ZEEK_CONN_TYPES,
                    );
                    conn.raw(&h)?;
                }
                (Some(dns), Some(conn))
            }
        };
        let fw = match f.firewall {
            Some(_) => Some(Stream::create(org.join("syslog/firewall.log"))?),
            None => None,
        };
        Ok(OrgSink {
            root,
            web: f.web,
            net: f.net,
            fw_format: f.firewall,
            proxy,
            dns,
            conn,
            eve,
            windows: Stream::create(org.join("windows/security.jsonl"))?,
            mail: Stream::create(org.join("mail/mailgw.jsonl"))?,
            fw,
            fw_host: format!("fw01.{}", plan.domain),
            proxy_addr: plan.proxy,
            internal: plan.net,
            uptime_base_s: open_ns / crate::out::NS - 3_456_789,
            close_ns,
        })
    }

    pub fn web<S: AsRef<str>>(&mut self, r: &Web<S>) {
        match (self.web, &mut self.proxy, &mut self.eve) {
            (WebFormat::Squid, Some(s), _) => s.push(r.ts, 1, |b| render::squid(b, r)),
            (_, _, Some(s)) => {
                let proxy = self.proxy_addr;
                s.push(r.ts, 1, |b| render::eve_http_via_proxy(b, r, proxy))
            }
            _ => {}
        }
    }

    pub fn dns<S: AsRef<str>>(&mut self, r: &Dns<S>) {
        match self.net {
            NetFormat::ZeekTsv => {
                if let Some(s) = &mut self.dns {
                    s.push(r.ts, 1, |b| render::zeek_dns_tsv(b, r));
                }
            }
            NetFormat::ZeekJson => {
                if let Some(s) = &mut self.dns {
                    s.push(r.ts, 1, |b| render::zeek_dns_json(b, r));
                }
            }
            NetFormat::Eve => {
                if let Some(s) = &mut self.eve {
                    s.push(r.ts, 2, |b| render::eve_dns(b, r));
                }
            }
        }
    }

    pub fn flow(&mut self, f: &Flow) {
        match self.net {
            NetFormat::ZeekTsv => {
                if let Some(s) = &mut self.conn {
                    s.push(f.ts, 1, |b| render::zeek_conn_tsv(b, f));
                }
            }
            NetFormat::ZeekJson => {
                if let Some(s) = &mut self.conn {
                    s.push(f.ts, 1, |b| render::zeek_conn_json(b, f));
                }
            }
            NetFormat::Eve => {
                if let Some(s) = &mut self.eve {
                    s.push(f.ts, 1, |b| render::eve_flow(b, f));
                }
            }
        }
    }

    pub fn auth<S: AsRef<str>>(&mut self, a: &Auth<S>) {
        self.windows.push_seq(
            a.ts,
            |b| render::winlog_pre(b, a),
            |b| render::winlog_post(b, a),
        );
    }

    pub fn mail<S: AsRef<str>>(&mut self, m: &Mail<S>) {
        self.mail.push(m.ts, 1, |b| render::mailgw(b, m));
    }

    /// IDS alerts exist only where a Suricata sensor runs.
    pub fn ids<S: AsRef<str>>(&mut self, a: &IdsAlert<S>) {
        if let Some(s) = &mut self.eve {
            s.push(a.ts, 1, |b| render::eve_alert(b, a));
        }
    }

    /// Firewall decisions: syslog where the organization has a logging firewall, otherwise the
    /// border sensor's view of the same attempt. An attempt from inside the organization
    /// crossed the internal core on its way to the firewall, so the network sensor there
    /// records it too (a connection attempt without answer).
    pub fn fw(&mut self, f: &Fw) {
        let outbound = self.internal.contains(&f.src) && !self.internal.contains(&f.dst);
        let logged = self.fw.is_some();
        if logged && outbound {
            self.fw_flow(f);
        }
        match (&mut self.fw, self.fw_format) {
            (Some(s), Some(FirewallFormat::Syslog5424)) => {
                let host = &self.fw_host;
                s.push(f.ts, 1, |b| render::syslog_5424(b, host, f));
            }
            (Some(s), Some(FirewallFormat::Syslog3164)) => {
                let host = self.fw_host.split('.').next().unwrap_or("fw01");
                let base = self.uptime_base_s;
                s.push(f.ts, 1, |b| render::syslog_3164(b, host, f, base));
            }
            _ => self.fw_flow(f),
        }
    }

    /// The network sensor's record of a firewall-decided connection attempt.
    fn fw_flow(&mut self, f: &Fw) {
        let flow = Flow {
            ts: f.ts,
            src: f.src,
            src_port: f.src_port,
            dst: f.dst,
            dst_port: f.dst_port,
            proto: f.proto,
            service: None,
            duration_us: 0,
            orig_bytes: 0,
            resp_bytes: 0,
            orig_pkts: if f.allow { 3 } else { 1 },
            resp_pkts: 0,
            state: if f.allow { "S1" } else { "S0" },
        };
        self.flow(&flow);
    }

    pub fn has_firewall(&self) -> bool {
        self.fw.is_some()
    }

    pub fn activity(&mut self, a: &Activity) {
        match a {
            Activity::Web(r) => self.web(r),
            Activity::Dns(r) => self.dns(r),
            Activity::Flow(r) => self.flow(r),
            Activity::Auth(r) => self.auth(r),
            Activity::Mail(r) => self.mail(r),
            Activity::Ids(r) => self.ids(r),
            Activity::Fw(r) => self.fw(r),
        }
    }

    /// Writes everything buffered so far (call at the end of each simulated hour).
    pub fn flush(&mut self) -> Result<(), SimError> {
        for s in self.streams_mut() {
            s.flush()?;
        }
        Ok(())
    }

    fn streams_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        [
            self.proxy.as_mut(),
            self.dns.as_mut(),
            self.conn.as_mut(),
            self.eve.as_mut(),
            Some(&mut self.windows),
            Some(&mut self.mail),
            self.fw.as_mut(),
        ]
        .into_iter()
        .flatten()
    }

    pub fn finish(self) -> Result<SinkStats, SimError> {
        let mut stats = SinkStats::default();
        let mut trailer = Vec::new();
        if self.net == NetFormat::ZeekTsv {
            render::zeek_footer(&mut trailer, self.close_ns);
        }
        let zeek: [Option<Stream>; 2] = [self.dns, self.conn];
        let others = [
            self.proxy,
            self.eve,
            Some(self.windows),
            Some(self.mail),
            self.fw,
        ];
        let mut done = Vec::new();
        for s in zeek.into_iter().flatten() {
            done.push(s.close(&trailer)?);
        }
        for s in others.into_iter().flatten() {
            done.push(s.close(b"")?);
        }
        for (path, lines) in done {
            let rel = path
                .strip_prefix(&self.root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            stats.files.insert(rel, lines);
        }
        Ok(stats)
    }
}
