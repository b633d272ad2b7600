//! The shared config/credentials file reader never panics, whatever the file holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::config::profile::IniFile;

fuzz_target!(|data: &[u8]| {
    let file = IniFile::parse(&String::from_utf8_lossy(data));
    let _ = file.config_profile("default");
    let _ = file.section("default");
});
