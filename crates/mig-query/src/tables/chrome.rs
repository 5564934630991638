//! Extensions of Chromium-family browsers (Chrome, Chromium, Brave, Edge, Opera, Vivaldi,
//! Yandex): chrome_extensions and chrome_extension_content_scripts, read as osquery reads them
//! — every profile's Preferences and Secure Preferences, and each extension's manifest.json.

use super::super::paths::sorted_entries;
use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::user_homes;
use base64::Engine as _;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each browser's folders below a home on Linux, and its `browser_type` (osquery's list).
const BROWSER_DIRS: &[(&str, &str)] = &[
    ("chrome", ".config/google-chrome"),
    ("chrome_beta", ".config/google-chrome-beta"),
    ("chrome_dev", ".config/google-chrome-unstable"),
    ("brave", ".config/BraveSoftware/Brave-Browser"),
    (
        "brave",
        ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser",
    ),
    ("brave_beta", ".config/BraveSoftware/Brave-Browser-Beta"),
    (
        "brave_beta",
        ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser-Beta",
    ),
    (
        "brave_nightly",
        ".config/BraveSoftware/Brave-Browser-Nightly",
    ),
    (
        "brave_nightly",
        ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser-Nightly",
    ),
    ("chromium", ".config/chromium"),
    ("chromium", "snap/chromium/common/chromium"),
    ("chromium", ".var/app/org.chromium.Chromium/config/chromium"),
    ("yandex", ".config/yandex-browser-beta"),
    ("edge", ".config/microsoft-edge"),
    ("edge_beta", ".config/microsoft-edge-beta"),
    ("edge_dev", ".config/microsoft-edge-dev"),
    ("opera", ".config/opera"),
    ("vivaldi", ".config/vivaldi"),
    ("vivaldi", ".var/app/com.vivaldi.Vivaldi/config/vivaldi"),
];

const PREFERENCES: &str = "Preferences";
const SECURE_PREFERENCES: &str = "Secure Preferences";

/// Microseconds from 1601-01-01 (WebKit's epoch) to 1970-01-01, in seconds.
const WEBKIT_TO_UNIX_SECONDS: i64 = 11_644_473_600;

table_row! {
    /// One extension of one browser profile.
    struct ChromeExtensionRow {
        browser_type: text = "The browser type (Valid values: chrome, chrome_beta, chrome_dev, chrome_canary, chromium, opera, yandex, brave, brave_beta, brave_nightly, edge, edge_beta, edge_dev, edge_canary, vivaldi, arc, dia, comet)",
        uid: bigint = "The local user that owns the extension",
        name: text = "Extension display name",
        profile: text = "The name of the Chrome profile that contains this extension",
        profile_path: text = "The profile path",
        referenced_identifier: text = "Extension identifier, as specified by the preferences file. Empty if the extension is not in the profile.",
        identifier: text = "Extension identifier, computed from its manifest. Empty in case of error.",
        version: text = "Extension-supplied version",
        description: text = "Extension-optional description",
        default_locale: text = "Default locale supported by extension",
        current_locale: text = "Current locale supported by extension",
        update_url: text = "Extension-supplied update URI",
        author: text = "Optional extension author",
        persistent: integer = "1 If extension is persistent across all tabs else 0",
        path: text = "Path to extension folder",
        permissions: text = "The permissions required by the extension",
        #[hidden]
        permissions_json: text = "The JSON-encoded permissions required by the extension",
        optional_permissions: text = "The permissions optionally required by the extensions",
        #[hidden]
        optional_permissions_json: text = "The JSON-encoded permissions optionally required by the extensions",
        manifest_hash: text = "The SHA256 hash of the manifest.json file",
        referenced: bigint = "1 if this extension is referenced by the Preferences file of the profile",
        from_webstore: text = "True if this extension was installed from the web store",
        state: text = "1 if this extension is enabled",
        install_time: text = "Extension install time, in its original Webkit format",
        install_timestamp: bigint = "Extension install time, converted to unix time",
        #[hidden]
        manifest_json: text = "The manifest file of the extension",
        #[hidden]
        key: text = "The extension key, from the manifest file",
    }
}

pub(crate) static CHROME_EXTENSIONS: Table = Table {
    name: "chrome_extensions",
    about: "Chrome-based browser extensions: every profile of each user's Chrome, Chromium, Brave, Edge, Opera, Vivaldi and Yandex (their Preferences, Secure Preferences and Extensions folders, snap and flatpak installs included).",
    columns: ChromeExtensionRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_chrome_extensions,
    reach: Reach::Host,
    example: "SELECT browser_type, name, identifier, version, permissions FROM chrome_extensions WHERE state = '1'",
};

table_row! {
    /// One (match pattern, script) pair of one extension's content scripts.
    struct ContentScriptRow {
        browser_type: text = "The browser type (Valid values: chrome, chromium, opera, yandex, brave)",
        uid: bigint = "The local user that owns the extension",
        identifier: text = "Extension identifier",
        version: text = "Extension-supplied version",
        script: text = "The content script used by the extension",
        r#match: text = "The pattern that the script is matched against",
        profile_path: text = "The profile path",
        path: text = "Path to extension folder",
        referenced: bigint = "1 if this extension is referenced by the Preferences file of the profile",
    }
}

pub(crate) static CHROME_EXTENSION_CONTENT_SCRIPTS: Table = Table {
    name: "chrome_extension_content_scripts",
    about: "Chrome browser extension content scripts: one row per URL pattern and script of each extension chrome_extensions lists.",
    columns: ContentScriptRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_content_scripts,
    reach: Reach::Host,
    example: "SELECT identifier, script, match FROM chrome_extension_content_scripts WHERE match = '<all_urls>'",
};

/// One browser profile: its folder and both preferences documents.
struct Profile {
    browser: &'static str,
    uid: i64,
    path: PathBuf,
    name: String,
    preferences: [Json; 2],
}

/// One extension folder of a profile.
struct Extension {
    path: PathBuf,
    manifest: Json,
    manifest_sha256: String,
    referenced: bool,
}

/// `path` made canonical where it can be (osquery compares canonical paths), as it is
/// otherwise.
fn canonical(path: PathBuf) -> PathBuf {
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// A folder is a profile when it holds either preferences file.
fn is_profile(dir: &Path) -> bool {
    [PREFERENCES, SECURE_PREFERENCES]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// A preferences file as JSON: `Null` when absent or empty, `None` when it does not parse
/// (the profile is then skipped, as osquery skips it).
fn preferences(path: &Path) -> Option<Json> {
    match std::fs::read(path) {
        Ok(text) if !text.is_empty() => serde_json::from_slice(&text).ok(),
        _ => Some(Json::Null),
    }
}

fn profiles(q: &Constraints) -> Result<Vec<Profile>, String> {
    let mut found = Vec::new();
    for user in user_homes(q)? {
        q.check()?;
        found.extend(home_profiles(Path::new(&user.home), i64::from(user.uid)));
    }
    Ok(found)
}

/// The profiles of every browser below one home.
fn home_profiles(home: &Path, uid: i64) -> Vec<Profile> {
    let mut found = Vec::new();
    for (browser, suffix) in BROWSER_DIRS {
        let dir = canonical(home.join(suffix));
        let candidates = if is_profile(&dir) {
            vec![dir]
        } else {
            sorted_entries(&dir, |p| p.is_dir())
                .into_iter()
                .map(canonical)
                .filter(|p| is_profile(p))
                .collect()
        };
        for path in candidates {
            let (Some(prefs), Some(secure)) = (
                preferences(&path.join(PREFERENCES)),
                preferences(&path.join(SECURE_PREFERENCES)),
            ) else {
                continue;
            };
            let name = [&prefs, &secure]
                .iter()
                .find_map(|p| p["profile"]["name"].as_str().filter(|n| !n.is_empty()))
                .map(str::to_string);
            // Opera's profiles have no name; any other browser's without one is broken.
            let name = match name {
                Some(n) => n,
                None if *browser == "opera" => String::new(),
                None => continue,
            };
            found.push(Profile {
                browser,
                uid,
                path,
                name,
                preferences: [prefs, secure],
            });
        }
    }
    found
}

/// The `extensions.settings` (Opera: `extensions.opsettings`) of a preferences document.
fn settings(prefs: &Json) -> Option<&serde_json::Map<String, Json>> {
    let ext = &prefs["extensions"];
    ext["settings"]
        .as_object()
        .or_else(|| ext["opsettings"].as_object())
}

/// Where a settings entry says its extension is: relative paths are below the profile's
/// Extensions folder.
fn settings_path(profile: &Path, entry: &Json) -> Option<PathBuf> {
    let path = Path::new(entry["path"].as_str()?);
    Some(canonical(if path.is_absolute() {
        path.to_path_buf()
    } else {
        profile.join("Extensions").join(path)
    }))
}

fn read_extension(path: PathBuf, referenced: bool) -> Option<Extension> {
    let raw = std::fs::read(path.join("manifest.json")).ok()?;
    let manifest = serde_json::from_slice(&raw).ok()?;
    Some(Extension {
        manifest_sha256: hex(&Sha256::digest(&raw)),
        path,
        manifest,
        referenced,
    })
}

/// A profile's extensions: those in its Extensions folder (`<id>/<version>`), then those its
/// preferences reference, wherever they are.
fn extensions(profile: &Profile) -> Vec<Extension> {
    let mut by_path: BTreeMap<PathBuf, Extension> = BTreeMap::new();
    for id in sorted_entries(&profile.path.join("Extensions"), |p| p.is_dir()) {
        for version in sorted_entries(&id, |p| p.is_dir()) {
            let path = canonical(version);
            if let Some(e) = read_extension(path.clone(), false) {
                by_path.insert(path, e);
            }
        }
    }
    for prefs in &profile.preferences {
        for entry in settings(prefs).into_iter().flat_map(|s| s.values()) {
            let Some(path) = settings_path(&profile.path, entry) else {
                continue;
            };
            match by_path.get_mut(&path) {
                Some(e) => e.referenced = true,
                None => {
                    if let Some(e) = read_extension(path.clone(), true) {
                        by_path.insert(path, e);
                    }
                }
            }
        }
    }
    let (mut listed, referenced): (Vec<_>, Vec<_>) =
        by_path.into_values().partition(|e| !e.referenced);
    listed.extend(referenced);
    listed
}

/// What the profile's preferences say of the extension at `path`: its identifier (the
/// settings key) and the entry.
fn profile_settings<'a>(profile: &'a Profile, path: &Path) -> Option<(&'a str, &'a Json)> {
    profile.preferences.iter().find_map(|prefs| {
        settings(prefs)?.iter().find_map(|(id, entry)| {
            (settings_path(&profile.path, entry).as_deref() == Some(path))
                .then_some((id.as_str(), entry))
        })
    })
}

/// A scalar as the text osquery's property tree holds (booleans as `true`/`false`); objects
/// and arrays have none.
fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        Json::Null => Some("null".into()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Chrome's extension identifier: the SHA-256 of the manifest's public key, its first 32 hex
/// digits written with the letters a–p.
fn identifier_from_key(key: &str) -> String {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(key.trim()) else {
        return String::new();
    };
    if der.is_empty() {
        return String::new();
    }
    hex(&Sha256::digest(&der))[..32]
        .bytes()
        .map(|c| {
            let digit = (c as char).to_digit(16).unwrap_or(0) as u8;
            char::from(b'a' + digit)
        })
        .collect()
}

/// A manifest's `__MSG_name__` strings, resolved through `_locales/<locale>/messages.json`
/// (message names are case-insensitive, as in Chrome).
struct Localizer(Option<serde_json::Map<String, Json>>);

impl Localizer {
    fn new(extension: &Path, manifest: &Json) -> Localizer {
        let locale = ["default_locale", "current_locale"]
            .iter()
            .find_map(|k| manifest[*k].as_str())
            .unwrap_or("en");
        let file = extension
            .join("_locales")
            .join(locale)
            .join("messages.json");
        let messages = std::fs::read(file)
            .ok()
            .and_then(|t| serde_json::from_slice::<Json>(&t).ok())
            .and_then(|j| j.as_object().cloned());
        Localizer(messages)
    }

    fn text(&self, value: String) -> String {
        let Some(name) = value
            .strip_prefix("__MSG_")
            .and_then(|v| v.strip_suffix("__"))
        else {
            return value;
        };
        let Some(messages) = &self.0 else {
            return value;
        };
        messages
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, m)| m["message"].as_str())
            .map_or(value.clone(), str::to_string)
    }
}

/// A string array of the manifest: joined with ", ", and as JSON ("{}" when absent).
fn string_list(v: &Json) -> (String, String) {
    match v.as_array() {
        Some(items) => {
            let texts: Vec<String> = items.iter().filter_map(scalar).collect();
            (texts.join(", "), Json::from(texts).to_string())
        }
        None => (String::new(), "{}".into()),
    }
}

fn extension_row(profile: &Profile, e: &Extension) -> ChromeExtensionRow {
    let m = &e.manifest;
    let local = Localizer::new(&e.path, m);
    let text = |k: &str| {
        local.text(
            scalar(&m[k])
                .filter(|_| !m[k].is_null())
                .unwrap_or_default(),
        )
    };
    let (permissions, permissions_json) = string_list(&m["permissions"]);
    let (optional_permissions, optional_permissions_json) = string_list(&m["optional_permissions"]);
    let (referenced_identifier, entry) = match profile_settings(profile, &e.path) {
        Some((id, entry)) if e.referenced => (id.to_string(), Some(entry)),
        _ => (String::new(), None),
    };
    let setting = |k: &str| {
        entry
            .and_then(|s| scalar(&s[k]).filter(|_| !s[k].is_null()))
            .unwrap_or_default()
    };
    let install_time = setting("install_time");
    let install_timestamp = install_time
        .parse::<i64>()
        .map(|us| us / 1_000_000 - WEBKIT_TO_UNIX_SECONDS)
        .ok()
        .filter(|t| *t >= 0)
        .unwrap_or(0);
    let key = text("key");
    ChromeExtensionRow {
        browser_type: profile.browser.into(),
        uid: profile.uid,
        name: text("name"),
        profile: profile.name.clone(),
        profile_path: profile.path.to_string_lossy().into_owned(),
        referenced_identifier,
        identifier: identifier_from_key(&key),
        version: text("version"),
        description: text("description"),
        default_locale: text("default_locale"),
        current_locale: text("current_locale"),
        update_url: text("update_url"),
        author: text("author"),
        persistent: i64::from(
            scalar(&m["background"]["persistent"]).is_some_and(|p| p.eq_ignore_ascii_case("true")),
        ),
        path: e.path.to_string_lossy().into_owned(),
        permissions,
        permissions_json,
        optional_permissions,
        optional_permissions_json,
        manifest_hash: e.manifest_sha256.clone(),
        referenced: i64::from(e.referenced),
        from_webstore: setting("from_webstore"),
        state: setting("state"),
        install_time,
        install_timestamp,
        manifest_json: m.to_string(),
        key,
    }
}

fn gen_chrome_extensions(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for profile in profiles(q)? {
        q.check()?;
        rows.extend(
            extensions(&profile)
                .iter()
                .map(|e| extension_row(&profile, e)),
        );
    }
    Ok(VecRows::boxed(rows))
}

/// Each (match, script) pair of a manifest's content_scripts.
fn content_scripts(manifest: &Json) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for entry in manifest["content_scripts"].as_array().into_iter().flatten() {
        let (Some(matches), Some(scripts)) = (entry["matches"].as_array(), entry["js"].as_array())
        else {
            continue;
        };
        for pattern in matches.iter().filter_map(scalar) {
            for script in scripts.iter().filter_map(scalar) {
                pairs.push((pattern.clone(), script));
            }
        }
    }
    pairs
}

fn gen_content_scripts(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for profile in profiles(q)? {
        q.check()?;
        for e in extensions(&profile) {
            let row = extension_row(&profile, &e);
            // osquery reads this from a setting it never stores (always empty): the computed
            // identifier, else the one the preferences give, is what a hunt needs.
            let identifier = if row.identifier.is_empty() {
                row.referenced_identifier
            } else {
                row.identifier
            };
            for (pattern, script) in content_scripts(&e.manifest) {
                rows.push(ContentScriptRow {
                    browser_type: profile.browser.into(),
                    uid: profile.uid,
                    identifier: identifier.clone(),
                    version: row.version.clone(),
                    script,
                    r#match: pattern,
                    profile_path: row.profile_path.clone(),
                    path: row.path.clone(),
                    referenced: row.referenced,
                });
            }
        }
    }
    Ok(VecRows::boxed(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_is_the_keys_sha256_in_letters() {
        // sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e…: 2→c, c→m, f→p, …
        assert_eq!(
            identifier_from_key("aGVsbG8="),
            "cmpcenlkfplakdaocgoidlckmfljocjo"
        );
        assert_eq!(identifier_from_key("not base64!"), "");
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_profile_with_listed_referenced_and_outside_extensions() {
        let home = tempfile::tempdir().unwrap();
        let profile = home.path().join(".config/google-chrome/Default");
        let outside = home.path().join("unpacked/dev-ext");
        write(
            &profile.join("Preferences"),
            &serde_json::json!({
                "profile": {"name": "Person 1"},
                "extensions": {"settings": {
                    "aaaa": {"path": "aaaa/1.0_0", "state": 1, "from_webstore": true,
                             "install_time": "13350000000000000"},
                    "devx": {"path": outside.to_str().unwrap(), "state": 0}
                }}
            })
            .to_string(),
        );
        write(
            &profile.join("Extensions/aaaa/1.0_0/manifest.json"),
            r#"{"name": "__MSG_appName__", "version": "1.0", "default_locale": "en", "key": "aGVsbG8=",
                "permissions": ["tabs", "<all_urls>"], "background": {"persistent": true},
                "content_scripts": [{"matches": ["<all_urls>"], "js": ["inject.js"]}]}"#,
        );
        write(
            &profile.join("Extensions/aaaa/1.0_0/_locales/en/messages.json"),
            r#"{"APPNAME": {"message": "Tab Helper"}}"#,
        );
        write(
            &profile.join("Extensions/bbbb/2.0_0/manifest.json"),
            r#"{"name": "Leftover", "version": "2.0"}"#,
        );
        write(
            &outside.join("manifest.json"),
            r#"{"name": "Dev", "version": "0.1"}"#,
        );
        // A profile folder whose preferences do not parse is skipped, not an error.
        write(
            &home.path().join(".config/chromium/Default/Preferences"),
            "{",
        );

        let profiles = home_profiles(home.path(), 1000);
        assert_eq!(profiles.len(), 1);
        let p = &profiles[0];
        assert_eq!((p.browser, p.name.as_str()), ("chrome", "Person 1"));
        let rows: Vec<_> = extensions(p).iter().map(|e| extension_row(p, e)).collect();
        let names: Vec<(&str, i64)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.referenced))
            .collect();
        assert_eq!(names, [("Leftover", 0), ("Tab Helper", 1), ("Dev", 1)]);
        let tab = &rows[1];
        assert_eq!(tab.referenced_identifier, "aaaa");
        assert_eq!(tab.identifier, "cmpcenlkfplakdaocgoidlckmfljocjo");
        assert_eq!(
            (tab.state.as_str(), tab.from_webstore.as_str()),
            ("1", "true")
        );
        assert_eq!(
            tab.install_timestamp,
            13_350_000_000 - WEBKIT_TO_UNIX_SECONDS
        );
        assert_eq!(
            (tab.permissions.as_str(), tab.persistent),
            ("tabs, <all_urls>", 1)
        );
        assert_eq!(tab.manifest_hash.len(), 64);
        assert_eq!(rows[0].referenced_identifier, "");
        assert_eq!(rows[2].state, "0");
        assert_eq!(content_scripts(&extensions(p)[1].manifest).len(), 1);
    }

    #[test]
    fn content_scripts_pair_every_match_with_every_script() {
        let m: Json = serde_json::json!({"content_scripts": [
            {"matches": ["https://*/*", "http://*/*"], "js": ["a.js", "b.js"]},
            {"matches": ["<all_urls>"]},
            {"js": ["c.js"]}
        ]});
        let pairs = content_scripts(&m);
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[0], ("https://*/*".into(), "a.js".into()));
        assert_eq!(pairs[3], ("http://*/*".into(), "b.js".into()));
    }

    #[test]
    fn string_lists_as_osquery_renders_them() {
        let (text, json) = string_list(&serde_json::json!(["tabs", "storage", {"x": 1}]));
        assert_eq!(text, "tabs, storage");
        assert_eq!(json, r#"["tabs","storage"]"#);
        assert_eq!(string_list(&Json::Null), (String::new(), "{}".into()));
    }
}
