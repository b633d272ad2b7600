//! Proxy URLs and NO_PROXY lists, as the environment gives them: any text parses or is
//! refused without a panic, a parsed proxy's Debug never shows its credentials, and a
//! NO_PROXY list matches its own plain entries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::config::{NoProxy, Proxy};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let (url, list) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(proxy) = Proxy::parse(url, "HTTPS_PROXY") {
        let debug = format!("{proxy:?}");
        if let Some(auth) = &proxy.authorization {
            assert!(!debug.contains(auth.expose()), "credentials in Debug: {debug}");
        }
    }
    let no_proxy = NoProxy::parse(list);
    for entry in list.split([',', ' ', '\t']) {
        let host = entry.trim().trim_start_matches('.');
        let plain = !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !host.bytes().all(|b| b.is_ascii_digit());
        if plain {
            assert!(no_proxy.matches(host, 443), "{host} not matched by {list:?}");
        }
        let _ = no_proxy.matches(entry, 80);
    }
});
