//! Browser tests: the console in headless Chromium, driven over WebDriver (chromedriver).
//!
//! Covers login, the dashboard, the language switch, an analyst turning an alert into an
//! advisory, and the organization's security officer acknowledging it, reporting measures
//! and closing it — through the real HTTP server, forms and redirects.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/setup/chromium.sh`).
//! Without them the test prints that it was not run, unless `YAGURA_REQUIRE_PEERS=1` (CI),
//! where their absence is a failure. The WebDriver client is the few W3C WebDriver commands
//! the test needs, over a plain HTTP/1.1 connection to chromedriver on localhost.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use yagura_model::Role;

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The browser and its driver, or why the test cannot run.
fn peers() -> Result<(PathBuf, PathBuf), String> {
    let browser = std::env::var_os("YAGURA_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find(&["chromium", "chromium-browser", "google-chrome"]))
        .ok_or("chromium not found")?;
    let driver = std::env::var_os("YAGURA_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find(&["chromedriver"]))
        .ok_or("chromedriver not found")?;
    Ok((browser, driver))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(path: &std::path::Path) -> Driver {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let d = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(v) = http(port, "GET", "/status", None)
                && v["value"]["ready"] == true
            {
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not become ready on port {port}");
    }
}

/// One HTTP/1.1 request to chromedriver; the JSON answer.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver keeps connections open whatever the request says: read the header, then
    // exactly Content-Length bytes (or chunks, or to the end when neither is given).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the header".into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let have = raw.len() - head_end;
        let done = match length {
            Some(len) => have >= len,
            None if chunked => raw.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let rest = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    let payload = if chunked { dechunk(&rest) } else { rest };
    serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session.
struct Browser {
    port: u16,
    session: String,
    base: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

impl Browser {
    fn open(driver: &Driver, chromium: &std::path::Path, base: String) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--lang=en-US", "--window-size=1280,1000"]
            }
        }}});
        let v = http(driver.port, "POST", "/session", Some(&caps)).expect("new session");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Browser {
            port: driver.port,
            session,
            base,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let p = format!("/session/{}{path}", self.session);
        let v = http(self.port, method, &p, body.as_ref()).expect("webdriver");
        if v["value"].get("error").is_some() {
            let source = http(
                self.port,
                "GET",
                &format!("/session/{}/source", self.session),
                None,
            )
            .map(|v| v["value"].to_string())
            .unwrap_or_default();
            panic!(
                "webdriver {method} {path}: {}\npage: {}\n{source}",
                v["value"]["message"],
                self.url()
            );
        }
        v["value"].clone()
    }

    fn go(&self, path: &str) {
        self.cmd(
            "POST",
            "/url",
            Some(json!({"url": format!("{}{path}", self.base)})),
        );
    }

    fn url(&self) -> String {
        let p = format!("/session/{}/url", self.session);
        http(self.port, "GET", &p, None)
            .ok()
            .and_then(|v| v["value"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().expect("element id").to_owned()
    }

    /// The first element matching `css`, if any, without failing while a page is being
    /// replaced (between two documents there may be no element at all).
    fn try_find(&self, css: &str) -> Option<String> {
        let p = format!("/session/{}/elements", self.session);
        let v = http(
            self.port,
            "POST",
            &p,
            Some(&json!({"using": "css selector", "value": css})),
        )
        .ok()?;
        v["value"]
            .as_array()?
            .first()
            .and_then(|e| e[ELEMENT].as_str())
            .map(str::to_owned)
    }

    fn exists(&self, css: &str) -> bool {
        let p = format!("/session/{}/elements", self.session);
        let v = http(
            self.port,
            "POST",
            &p,
            Some(&json!({"using": "css selector", "value": css})),
        )
        .expect("webdriver");
        v["value"].as_array().is_some_and(|a| !a.is_empty())
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Clicks a link or submit button and waits until the next page has replaced this one
    /// (a new document element), so that what follows reads the new page.
    fn navigate_by(&self, css: &str) {
        let old = self.find("html");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.try_find("html").is_some_and(|h| h != old) && self.ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("clicking {css} did not load a new page: {}", self.url());
    }

    /// Whether the current document has loaded (false, not an error, mid-navigation).
    fn ready(&self) -> bool {
        let p = format!("/session/{}/execute/sync", self.session);
        http(
            self.port,
            "POST",
            &p,
            Some(&json!({"script": "return document.readyState", "args": []})),
        )
        .is_ok_and(|v| v["value"] == "complete")
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn attr(&self, css: &str, name: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/attribute/{name}"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn login(&self, user: &str, password: &str) {
        self.go("/console/");
        assert!(self.url().ends_with("/console/login"), "{}", self.url());
        self.type_into("#username", user);
        self.type_into("#password", password);
        self.navigate_by("#login");
        assert!(self.url().ends_with("/console/"), "{}", self.url());
    }
}

#[test]
fn console_in_headless_chromium() {
    let (chromium, chromedriver) = match peers() {
        Ok(p) => p,
        Err(why) => {
            if std::env::var("YAGURA_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("browser tests required (YAGURA_REQUIRE_PEERS=1) but {why}");
            }
            eprintln!("browser tests NOT RUN: {why} (install chromium and chromium-driver)");
            return;
        }
    };

    // The server on a real socket, with the fixture estate and two console users.
    let h = Harness::new();
    h.seed();
    h.user("analyst", "central", Role::Analyst);
    h.user("officer", "pension", Role::OrgOfficer);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = yagura_server::router(h.state.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            yagura_server::serve(listener, app, None, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });

    let driver = Driver::start(&chromedriver);
    {
        let b = Browser::open(&driver, &chromium, base);

        // Login and the dashboard.
        b.login("analyst", PASSWORD);
        assert_eq!(b.attr("#whoami", "data-role"), "analyst");
        assert!(b.exists("#alerts-per-day"), "the per-day chart is drawn");
        assert!(b.exists("#alerts-per-org"));
        assert!(b.exists("#top-detections"));
        // Language switch (remembered by cookie).
        b.navigate_by("#lang-ja");
        assert_eq!(b.text("#nav-dashboard"), "ダッシュボード");
        b.go("/console/alerts");
        assert_eq!(b.text("#nav-alerts"), "アラート");
        b.navigate_by("#lang-en");
        assert_eq!(b.text("#nav-alerts"), "Alerts");

        // The analyst turns an alert of the pension agency into an advisory.
        b.go("/console/alerts?org=pension");
        assert_eq!(b.attr("#alert-count", "data-total"), "1");
        b.navigate_by("#alert-table a.alert-link");
        assert!(
            b.url().ends_with("/console/alerts/al-pension"),
            "{}",
            b.url()
        );
        b.type_into("#adv-title", "Beaconing from a PC of the pension agency");
        b.type_into("#adv-measures", "Isolate the PC\nBlock the destination");
        b.navigate_by("#issue-advisory");
        assert_eq!(b.attr("#advisory-detail", "data-status"), "issued");
        let advisory_url = b.url();
        let advisory_id = b.attr("#advisory-detail", "data-advisory");
        b.navigate_by("#logout");
        assert!(b.url().ends_with("/console/login"), "{}", b.url());

        // The officer acknowledges it, reports measures and closes it.
        b.login("officer", PASSWORD);
        assert_eq!(b.attr("#whoami", "data-org"), "pension");
        b.go("/console/advisories");
        b.navigate_by(&format!(
            "tr[data-advisory='{advisory_id}'] a.advisory-link"
        ));
        assert_eq!(b.url(), advisory_url);
        b.navigate_by("#acknowledge");
        assert_eq!(b.attr("#advisory-detail", "data-status"), "acknowledged");
        b.type_into("#measures", "PC isolated and reimaged");
        b.navigate_by("#report-measures");
        assert_eq!(
            b.attr("#advisory-detail", "data-status"),
            "measures-reported"
        );
        assert!(
            b.text("#measures-taken")
                .contains("PC isolated and reimaged")
        );
        b.navigate_by("#close");
        assert_eq!(b.attr("#advisory-detail", "data-status"), "closed");
        assert!(!b.exists("#advisory-actions"), "nothing left to do");
        // The officer sees nothing of other organizations.
        b.go("/console/alerts");
        assert_eq!(b.attr("#alert-count", "data-total"), "1");
    }
    let _ = stop_tx.send(());
    server.join().unwrap();
}
