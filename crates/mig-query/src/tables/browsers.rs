//! Extensions of users' applications: firefox_addons (every Firefox profile's
//! extensions.json) and vscode_extensions (VS Code and its forks' extensions.json).

use super::super::paths::sorted_entries;
use super::super::row::table_row;
use super::super::schema::*;
use super::accounts::user_homes;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

table_row! {
    /// One add-on of one Firefox profile.
    struct FirefoxAddonRow {
        uid: bigint = "The local user that owns the addon",
        name: text = "Addon display name",
        identifier: text = "Addon identifier",
        creator: text = "Addon-supported creator string",
        r#type: text = "Extension, addon, webapp",
        version: text = "Addon-supplied version string",
        description: text = "Addon-supplied description string",
        source_url: text = "URL that installed the addon",
        visible: Option<integer> = "1 If the addon is shown in browser else 0",
        active: Option<integer> = "1 If the addon is active else 0",
        disabled: integer = "1 If the addon is application-disabled else 0",
        autoupdate: Option<integer> = "1 If the addon applies background updates else 0",
        location: text = "Global, profile location",
        path: text = "Path to plugin bundle",
    }
}

pub(crate) static FIREFOX_ADDONS: Table = Table {
    name: "firefox_addons",
    about: "Firefox browser extensions, webapps, and addons: each user's profiles under ~/.mozilla/firefox, ~/snap/firefox/common/.mozilla/firefox and ~/.config/mozilla/firefox.",
    columns: FirefoxAddonRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_firefox_addons,
    reach: Reach::Host,
    example: "SELECT uid, name, identifier, version, active FROM firefox_addons WHERE type = 'extension'",
};

/// Where profiles live below a home (osquery's list).
const FIREFOX_DIRS: &[&str] = &[
    ".mozilla/firefox",
    "snap/firefox/common/.mozilla/firefox",
    ".config/mozilla/firefox",
];

fn gen_firefox_addons(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for user in user_homes(q)? {
        let uid = i64::from(user.uid);
        for dir in FIREFOX_DIRS {
            for profile in profiles(&Path::new(&user.home).join(dir)) {
                q.check()?;
                let text = std::fs::read(profile.join("extensions.json")).unwrap_or_default();
                let Ok(doc) = serde_json::from_slice::<Json>(&text) else {
                    continue;
                };
                rows.extend(addons(&doc, uid));
            }
        }
    }
    Ok(VecRows::boxed(rows))
}

/// The profile directories of a Firefox directory (not its crash reports and pings).
fn profiles(dir: &Path) -> Vec<PathBuf> {
    sorted_entries(dir, |p| {
        let name = p.to_string_lossy();
        p.is_dir() && !name.ends_with("Crash Reports") && !name.ends_with("Pending Pings")
    })
}

/// A JSON value as osquery turns one into text: booleans as 1 and 0, `null` as "null".
fn json_text(v: &Json) -> String {
    match v {
        Json::Bool(b) => i64::from(*b).to_string(),
        Json::String(s) => s.clone(),
        Json::Null => "null".into(),
        other => other.to_string(),
    }
}

fn json_int(v: &Json) -> Option<i64> {
    match v {
        Json::Bool(b) => Some(i64::from(*b)),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The `addons` of an extensions.json.
fn addons(doc: &Json, uid: i64) -> Vec<FirefoxAddonRow> {
    let Some(list) = doc["addons"].as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter(|a| a.is_object())
        .map(|a| {
            let text = |v: &Json| {
                if v.is_null() {
                    String::new()
                } else {
                    json_text(v)
                }
            };
            let flag = |k: &str| a[k].as_bool().unwrap_or(false);
            FirefoxAddonRow {
                uid,
                name: text(&a["defaultLocale"]["name"]),
                identifier: text(&a["id"]),
                creator: text(&a["defaultLocale"]["creator"]),
                r#type: text(&a["type"]),
                version: text(&a["version"]),
                description: text(&a["defaultLocale"]["description"]),
                // Present but null is written as osquery writes it.
                source_url: a.get("sourceURI").map(json_text).unwrap_or_default(),
                visible: json_int(&a["visible"]),
                active: json_int(&a["active"]),
                disabled: i64::from(
                    flag("softDisable") || flag("appDisabled") || flag("userDisabled"),
                ),
                autoupdate: json_int(&a["applyBackgroundUpdates"]),
                location: text(&a["location"]),
                path: text(&a["path"]),
            }
        })
        .collect()
}

table_row! {
    /// One extension of a VS Code edition.
    struct VscodeRow {
        name: text = "Extension Name",
        uuid: text = "Extension UUID",
        version: text = "Extension version",
        path: text = "Extension path",
        publisher: text = "Publisher Name",
        publisher_id: text = "Publisher ID",
        installed_at: Option<bigint> = "Installed Timestamp",
        prerelease: Option<integer> = "Pre release version",
        uid: bigint = "The local user that owns the plugin",
        vscode_edition: text = "The VSCode edition (vscode, vscode_insiders, vscodium, vscodium_insiders, cursor, windsurf, trae)",
    }
}

pub(crate) static VSCODE_EXTENSIONS: Table = Table {
    name: "vscode_extensions",
    about: "Lists all vscode extensions: each user's VS Code, Insiders, VSCodium, Cursor, Windsurf and Trae installations (their extensions/extensions.json), server installs included.",
    columns: VscodeRow::COLUMNS,
    index: &["uid"],
    required: &[],
    like: &[],
    generate: gen_vscode_extensions,
    reach: Reach::Host,
    example: "SELECT name, version, publisher, vscode_edition FROM vscode_extensions",
};

/// Configuration directories below a home, and the edition each is (osquery's list).
const VSCODE_DIRS: &[(&str, &str)] = &[
    (".vscode-server", "vscode"),
    (".vscode", "vscode"),
    (".vscode-server-insiders", "vscode_insiders"),
    (".vscode-insiders", "vscode_insiders"),
    (".vscode-oss", "vscodium"),
    (".vscodium-server", "vscodium"),
    (".vscodium-insiders", "vscodium_insiders"),
    (".vscodium-server-insiders", "vscodium_insiders"),
    (".cursor", "cursor"),
    (".cursor-server", "cursor"),
    (".windsurf", "windsurf"),
    (".windsurf-server", "windsurf"),
    (".devin", "windsurf"),
    (".trae", "trae"),
    (".trae-server", "trae"),
];

fn gen_vscode_extensions(q: &Constraints) -> Result<Box<dyn Rows>, String> {
    let mut rows = Vec::new();
    for user in user_homes(q)? {
        let uid = i64::from(user.uid);
        for (dir, edition) in VSCODE_DIRS {
            let file = Path::new(&user.home)
                .join(dir)
                .join("extensions/extensions.json");
            let Ok(text) = std::fs::read(&file) else {
                continue;
            };
            if let Ok(doc) = serde_json::from_slice::<Json>(&text) {
                rows.extend(vscode_extensions(&doc, uid, edition));
            }
        }
    }
    Ok(VecRows::boxed(rows))
}

/// The entries of an extensions.json that have an identifier, metadata and location.
fn vscode_extensions(doc: &Json, uid: i64, edition: &str) -> Vec<VscodeRow> {
    let Some(list) = doc.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter(|e| {
            e["identifier"].is_object() && e["metadata"].is_object() && e["location"].is_object()
        })
        .map(|e| {
            let text = |v: &Json| v.as_str().unwrap_or_default().to_string();
            let meta = &e["metadata"];
            VscodeRow {
                name: text(&e["identifier"]["id"]),
                uuid: text(&meta["id"]),
                version: text(&e["version"]),
                path: text(&e["location"]["path"]),
                publisher: text(&meta["publisherDisplayName"]),
                publisher_id: text(&meta["publisherId"]),
                installed_at: meta["installedTimestamp"].as_i64(),
                prerelease: meta["isPreReleaseVersion"].as_bool().map(i64::from),
                uid,
                vscode_edition: edition.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vscode_extensions_json() {
        let doc: Json = serde_json::from_str(
            r#"[{"identifier": {"id": "ms-python.python", "uuid": "x"}, "version": "2024.2.1",
                 "location": {"$mid": 1, "path": "/home/a/.vscode/extensions/ms-python.python-2024.2.1", "scheme": "file"},
                 "metadata": {"id": "f1f59ae4", "publisherDisplayName": "Microsoft", "publisherId": "998b010b",
                              "installedTimestamp": 1708000000000, "isPreReleaseVersion": false}},
                {"identifier": {"id": "no.metadata"}, "version": "1"}]"#,
        )
        .unwrap();
        let rows = vscode_extensions(&doc, 1000, "vscode");
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.name.as_str(), r.version.as_str(), r.publisher.as_str()),
            ("ms-python.python", "2024.2.1", "Microsoft")
        );
        assert_eq!(
            (r.installed_at, r.prerelease, r.uid),
            (Some(1_708_000_000_000), Some(0), 1000)
        );
        assert!(r.path.ends_with("ms-python.python-2024.2.1"));
    }

    #[test]
    fn extensions_json_as_osquery_reads_it() {
        let doc: Json = serde_json::from_str(
            r#"{"schemaVersion": 35, "addons": [
                {"id": "uBlock0@raymondhill.net", "type": "extension", "version": "1.55.0",
                 "defaultLocale": {"name": "uBlock Origin", "creator": "Raymond Hill", "description": "An efficient blocker."},
                 "sourceURI": "https://addons.mozilla.org/x.xpi", "visible": true, "active": true,
                 "userDisabled": false, "applyBackgroundUpdates": 1, "location": "app-profile",
                 "path": "/home/a/.mozilla/firefox/p/extensions/uBlock0@raymondhill.net.xpi"},
                {"id": "off@example", "type": "theme", "sourceURI": null, "active": false, "userDisabled": true},
                "not an object"
            ]}"#,
        )
        .unwrap();
        let rows = addons(&doc, 1000);
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!(
            (a.name.as_str(), a.creator.as_str(), a.version.as_str()),
            ("uBlock Origin", "Raymond Hill", "1.55.0")
        );
        assert_eq!(
            (a.visible, a.active, a.disabled, a.autoupdate),
            (Some(1), Some(1), 0, Some(1))
        );
        let b = &rows[1];
        assert_eq!(
            (b.source_url.as_str(), b.active, b.disabled, b.visible),
            ("null", Some(0), 1, None)
        );
        assert!(addons(&serde_json::json!({"addons": 5}), 0).is_empty());
    }
}
