//! Protocol states as enums that keep MIG's text on the wire. A value this code does not know
//! (another MIG version's) is kept as `Other(text)` and written back unchanged, so reading and
//! forwarding never loses it; code matches on the variants it knows.

/// Declares such an enum: `wire_enum! { Name { Variant = "text", … } }`. The type gets
/// `as_str`, `Display`, `From<&str>`/`From<String>`, serde as a string, comparison with
/// `&str`, and `Default` (the empty text, as an unset field reads).
#[macro_export]
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as it was written.
            Other(String),
        }

        impl $name {
            /// Every known value's text, in declaration order.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// The value's text on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }

            /// Unset (the empty text).
            pub fn is_empty(&self) -> bool {
                self.as_str().is_empty()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::Other(String::new())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::from(s.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text: Option<String> = serde::Deserialize::deserialize(d)?;
                Ok(text.map(Self::from).unwrap_or_default())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    // The macro declares a `pub` type, unreachable from this private module.
    #![allow(unreachable_pub)]

    wire_enum! {
        /// A test enum.
        Colour { Red = "red", Green = "green" }
    }

    #[test]
    fn known_values_are_variants_and_others_survive_a_round_trip() {
        let c: Colour = serde_json::from_str("\"red\"").unwrap();
        assert_eq!(c, Colour::Red);
        assert!(c == "red");
        let other: Colour = serde_json::from_str("\"mauve\"").unwrap();
        assert_eq!(other, Colour::Other("mauve".into()));
        assert_eq!(serde_json::to_string(&other).unwrap(), "\"mauve\"");
        let null: Colour = serde_json::from_str("null").unwrap();
        assert_eq!(null, Colour::default());
        assert_eq!(Colour::ALL, &["red", "green"]);
        assert_eq!(Colour::Green.to_string(), "green");
        assert!(Colour::default().is_empty() && !Colour::Red.is_empty());
    }
}
