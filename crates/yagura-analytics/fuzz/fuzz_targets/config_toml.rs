//! Arbitrary TOML as the analytics configuration: an error or a valid config, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_analytics::AnalyticsConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(c) = AnalyticsConfig::from_toml(text)
    {
        assert!(c.validate().is_ok());
    }
});
