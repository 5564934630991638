//! Keeping secrets out of messages and logs.

/// A URL with its password (`scheme://user:password@host…`) replaced by `***`.
pub fn url_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::url_password;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            url_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            url_password("amqps://a.b.c:p@ss@h:5671/mig"),
            "amqps://a.b.c:***@h:5671/mig"
        );
        assert_eq!(url_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(url_password("wss://h:4443/"), "wss://h:4443/");
    }
}
