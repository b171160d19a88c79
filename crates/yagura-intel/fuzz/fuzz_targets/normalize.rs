//! Normalization never panics, is idempotent, and the hot-path keys agree with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_intel::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = normalize::classify(s);
    if let Ok(u) = normalize::url(s) {
        assert_eq!(normalize::url(&u).as_deref(), Ok(u.as_str()), "idempotent: {s:?}");
        if !u.starts_with('/') {
            let fast = normalize::url_key(s);
            assert_eq!(fast.as_deref(), Some(normalize::url_resource(&u)), "{s:?}");
        }
    }
    if let Ok(d) = normalize::domain(s) {
        assert_eq!(normalize::domain(&d).as_deref(), Ok(d.as_str()));
        assert_eq!(normalize::domain_key(s).as_deref(), Some(d.as_str()));
    }
    let _ = normalize::email_key(s);
});
