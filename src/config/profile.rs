//! The AWS shared config and credentials files: INI sections of `key = value` lines.
//!
//! Format as the AWS CLI reads it: `[name]` sections (`[profile name]` in the config
//! file, except `[default]`), `#` and `;` comment lines, and nested settings written as
//! `s3 =` followed by indented `key = value` lines (stored here as `s3.key`).

use std::collections::BTreeMap;

/// One parsed file: section name -> settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IniFile {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl IniFile {
    /// Parses the text of a shared config or credentials file. Lines that are neither a
    /// section, a setting nor a comment are ignored, as the AWS CLI does.
    pub fn parse(text: &str) -> IniFile {
        let mut file = IniFile::default();
        let mut section: Option<String> = None;
        let mut parent: Option<String> = None;
        for raw in text.lines() {
            let indented = raw.starts_with([' ', '\t']);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                file.sections.entry(name.clone()).or_default();
                section = Some(name);
                parent = None;
                continue;
            }
            let (Some(current), Some((key, value))) = (&section, line.split_once('=')) else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
            let settings = file.sections.entry(current.clone()).or_default();
            match (&parent, indented) {
                (Some(p), true) => {
                    settings.insert(format!("{p}.{key}"), value);
                }
                _ => {
                    parent = value.is_empty().then(|| key.clone());
                    settings.insert(key, value);
                }
            }
        }
        file
    }

    /// The settings of section `name`, if the file has it.
    pub fn section(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.sections.get(name)
    }

    /// The settings of a profile in the config file: `[default]` or `[profile NAME]`
    /// (a bare `[NAME]` is accepted too, as the AWS CLI does for the config file).
    pub fn config_profile(&self, profile: &str) -> Option<&BTreeMap<String, String>> {
        if profile == "default" {
            return self
                .section("default")
                .or_else(|| self.section("profile default"));
        }
        self.section(&format!("profile {profile}"))
            .or_else(|| self.section(profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_settings_comments_and_nesting() {
        let text = "# comment\n[default]\naws_access_key_id = AK\n; other\nregion=eu-west-1\n\n\
                    [profile minio]\nendpoint_url = http://127.0.0.1:9000\ns3 =\n  addressing_style = path\n\
                    region = us-west-2\n[  profile   spaced ]\nx = 1\n";
        let f = IniFile::parse(text);
        let d = f.config_profile("default").unwrap();
        assert_eq!(d["aws_access_key_id"], "AK");
        assert_eq!(d["region"], "eu-west-1");
        let m = f.config_profile("minio").unwrap();
        assert_eq!(m["endpoint_url"], "http://127.0.0.1:9000");
        assert_eq!(m["s3.addressing_style"], "path");
        assert_eq!(m["region"], "us-west-2");
        assert_eq!(f.config_profile("spaced").unwrap()["x"], "1");
        assert!(f.config_profile("absent").is_none());
    }

    #[test]
    fn credentials_file_uses_bare_names_and_keeps_equals_in_values() {
        let f = IniFile::parse("[work]\naws_secret_access_key = abc/def+g==\n");
        assert_eq!(
            f.section("work").unwrap()["aws_secret_access_key"],
            "abc/def+g=="
        );
    }
}
