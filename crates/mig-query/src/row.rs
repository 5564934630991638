//! Typed rows: a table declares its columns once, as the fields of a row struct, and its
//! generator fills that struct by field name. The column list SQLite is given and the order
//! of each row's values both come from the one declaration, so a value cannot land in
//! another column, and a row that leaves a column out, or fills one the table does not
//! have, does not compile.

/// Declares a table's row: a struct with one field per column, in osquery's column order.
///
/// ```text
/// table_row! {
///     /// One package.
///     pub(crate) struct PackageRow {
///         name: text = "Package name",
///         size: bigint = "Package size in bytes",
///         epoch: Option<integer> = "Package epoch value",
///         r#type: text = "Package type",
///     }
/// }
/// ```
///
/// Each field is `name: kind = "osquery's description"`, after `#[hidden]` for a column
/// osquery hides from `SELECT *`. The kind is the column's type, and
/// also the helper of [`crate::schema`] that declares it: `text` is a `String`, `integer`
/// and `bigint` are `i64`, `double` is `f64`; `Option<kind>` is a column that may be NULL.
/// A column named like a Rust keyword is written as a raw identifier (`r#type`), and keeps
/// its plain name (`type`).
///
/// It expands to the struct, `COLUMNS` (the table's `columns`, in declaration order) and
/// `From<Struct> for Row` (its values, in the same order).
///
/// An optional `absent { name: kind = "…", }` block after the struct declares the columns
/// osquery has on Linux without a value here (its other platforms' columns, which osquery
/// itself leaves empty on Linux, and the namespace inputs): hidden, always NULL, and not
/// fields of the struct.
macro_rules! table_row {
    // The Rust type of a column kind.
    (@type text) => { String };
    (@type integer) => { i64 };
    (@type bigint) => { i64 };
    (@type double) => { f64 };
    (@type Option<$kind:ident>) => { Option<$crate::row::table_row!(@type $kind)> };

    // The column's declaration: NULL is a value, not a type, so `Option<kind>` is `kind`.
    (@column Option<$kind:ident>, $name:expr, $about:literal) => {
        $crate::schema::$kind($name, $about)
    };
    (@column $kind:ident, $name:expr, $about:literal) => {
        $crate::schema::$kind($name, $about)
    };

    // A column marked `#[hidden]`: left out of `SELECT *`, as osquery hides it.
    (@flag $column:expr) => { $column };
    (@flag $column:expr, hidden) => { $column.hidden() };

    (
        $(#[$meta:meta])*
        $vis:vis struct $row:ident {
            $($(#[$flag:ident])? $field:ident : $kind:ident $(<$inner:ident>)? = $about:literal),* $(,)?
        }
        $(absent {
            $($absent:ident : $absent_kind:ident = $absent_about:literal),* $(,)?
        })?
    ) => {
        $(#[$meta])*
        // Each field's doc is osquery's description, plain text: `argv[0]` is not a link.
        #[allow(rustdoc::broken_intra_doc_links)]
        $vis struct $row {
            $(
                #[doc = $about]
                $field: $crate::row::table_row!(@type $kind $(<$inner>)?),
            )*
        }

        impl $row {
            /// The table's columns, in the order of the struct's fields.
            $vis const COLUMNS: &'static [$crate::schema::Column] = &[
                $(
                    $crate::row::table_row!(
                        @flag
                        $crate::row::table_row!(
                            @column $kind $(<$inner>)?,
                            $crate::row::column_name(stringify!($field)),
                            $about
                        )
                        $(, $flag)?
                    ),
                )*
                $($(
                    $crate::schema::$absent_kind(
                        $crate::row::column_name(stringify!($absent)),
                        $absent_about
                    )
                    .hidden(),
                )*)?
            ];
        }

        impl From<$row> for $crate::schema::Row {
            fn from(row: $row) -> Self {
                vec![
                    $(::rusqlite::types::Value::from(row.$field),)*
                    $($({
                        let _absent = stringify!($absent);
                        ::rusqlite::types::Value::Null
                    },)*)?
                ]
            }
        }
    };
}

pub(crate) use table_row;

/// A field's name as osquery's column name: `stringify!(r#type)` is `r#type`, the column is
/// `type`.
pub(crate) const fn column_name(field: &'static str) -> &'static str {
    match field.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            // Cannot happen (what follows an ASCII prefix is still UTF-8); the field's own
            // spelling is the best answer if it did.
            Err(_) => field,
        },
        _ => field,
    }
}

/// An unsigned count (a size, an inode, a tick count) in a BIGINT column: SQLite's integers
/// are signed, so values past `i64::MAX` saturate rather than wrap to negative.
pub(crate) fn saturate(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::schema::{ColType, Row};
    use super::*;
    use rusqlite::types::Value;

    table_row! {
        /// A row with one column of each kind.
        struct Sample {
            name: text = "A name",
            r#type: integer = "A keyword as a column",
            size: bigint = "A size",
            ratio: double = "A ratio",
            epoch: Option<integer> = "Unknown on some rows",
            #[hidden]
            secret: text = "Hidden from SELECT *",
        }
    }

    #[test]
    fn columns_and_values_follow_the_declaration() {
        let names: Vec<_> = Sample::COLUMNS
            .iter()
            .map(|c| (c.name, c.kind, c.about))
            .collect();
        assert_eq!(
            names,
            [
                ("name", ColType::Text, "A name"),
                ("type", ColType::Integer, "A keyword as a column"),
                ("size", ColType::Bigint, "A size"),
                ("ratio", ColType::Double, "A ratio"),
                ("epoch", ColType::Integer, "Unknown on some rows"),
                ("secret", ColType::Text, "Hidden from SELECT *"),
            ]
        );
        let hidden: Vec<bool> = Sample::COLUMNS.iter().map(|c| c.hidden).collect();
        assert_eq!(hidden, [false, false, false, false, false, true]);
        let row = Row::from(Sample {
            epoch: None,
            ratio: 0.5,
            size: saturate(u64::MAX),
            r#type: -1,
            name: "x".into(),
            secret: "s".into(),
        });
        assert_eq!(
            row,
            [
                Value::Text("x".into()),
                Value::Integer(-1),
                Value::Integer(i64::MAX),
                Value::Real(0.5),
                Value::Null,
                Value::Text("s".into()),
            ]
        );
        let with_epoch = Row::from(Sample {
            name: String::new(),
            r#type: 0,
            size: 0,
            ratio: 0.0,
            epoch: Some(2),
            secret: String::new(),
        });
        assert_eq!(with_epoch[4], Value::Integer(2));
    }
}
