//! The SQL both table sources run, from a [`SqlMap`]: any table, any column
//! names (checked to be plain identifiers by the config, and quoted here),
//! values bound as parameters. Semantics as Znuny's CustomerUser::DB
//! (Kernel/System/CustomerUser/DB.pm: `CustomerKey` is the login,
//! `CustomerValid` holds the valid id, only valid id 1 is a customer).

use mysql::Value;

use super::config::SqlMap;
use super::text_id;
use crate::customers::db::CustomerRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Mysql,
    Postgres,
}

fn quote(d: Dialect, name: &str) -> String {
    let q = match d {
        Dialect::Mysql => '`',
        Dialect::Postgres => '"',
    };
    name.split('.').map(|p| format!("{q}{p}{q}")).collect::<Vec<_>>().join(".")
}

/// A column as read: as it is for MySQL; as text for PostgreSQL, whose
/// binary types would each need a decoder (the change time as
/// `YYYY-MM-DD HH:MM:SS.ffffff` whether it is a timestamp with or without
/// zone).
fn column(d: Dialect, name: &str, missing: &str, time: bool) -> String {
    if name.is_empty() {
        return missing.to_string();
    }
    let q = quote(d, name);
    match d {
        Dialect::Mysql => q,
        Dialect::Postgres if time => format!("to_char({q}, 'YYYY-MM-DD HH24:MI:SS.US')"),
        Dialect::Postgres => format!("CAST({q} AS TEXT)"),
    }
}

/// The select list, in the order of [`COLUMNS`](crate::customers::db::COLUMNS)
/// (id, login, customer_id, first_name, last_name, email, phone, mobile,
/// change time, valid), then the phone columns after the second.
fn select_list(map: &SqlMap, d: Dialect) -> String {
    let phone = |i: usize| map.phones.get(i).map_or("", String::as_str);
    let mut cols = vec![
        column(d, &map.id, "'0'", false),
        column(d, &map.login, "''", false),
        column(d, &map.customer_id, "''", false),
        column(d, &map.first_name, "''", false),
        column(d, &map.last_name, "''", false),
        column(d, &map.email, "''", false),
        column(d, phone(0), "''", false),
        column(d, phone(1), "''", false),
        column(d, &map.changed, "NULL", true),
        column(d, &map.valid, "'1'", false),
    ];
    cols.extend(map.phones.iter().skip(2).map(|p| column(d, p, "''", false)));
    cols.join(", ")
}

/// Every valid row. MySQL binds the 1; PostgreSQL compares text so that a
/// boolean column works as well as Znuny's smallint.
pub(super) fn full_sql(map: &SqlMap, d: Dialect) -> String {
    let table = quote(d, &map.table);
    let cols = select_list(map, d);
    match (map.valid.is_empty(), d) {
        (true, _) => format!("SELECT {cols} FROM {table}"),
        (false, Dialect::Mysql) => format!("SELECT {cols} FROM {table} WHERE {} = ?", quote(d, &map.valid)),
        (false, Dialect::Postgres) => {
            format!("SELECT {cols} FROM {table} WHERE CAST({} AS TEXT) IN ('1', 'true')", quote(d, &map.valid))
        }
    }
}

/// Every row changed at or after a change time plus a signed number of
/// microseconds, valid or not. `None` without a changed column.
pub(super) fn changed_sql(map: &SqlMap, d: Dialect) -> Option<String> {
    if map.changed.is_empty() {
        return None;
    }
    let (table, cols, changed) = (quote(d, &map.table), select_list(map, d), quote(d, &map.changed));
    Some(match d {
        Dialect::Mysql => format!("SELECT {cols} FROM {table} WHERE {changed} >= DATE_ADD(?, INTERVAL ? MICROSECOND)"),
        Dialect::Postgres => format!(
            "SELECT {cols} FROM {table} WHERE {changed} >= CAST($1::text AS timestamp) + $2::bigint * INTERVAL '1 microsecond'"
        ),
    })
}

/// Whether a valid column's text means valid: Znuny's valid id 1, or a
/// boolean's true.
pub(super) fn valid_text(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "t" | "true")
}

/// A row from its cells in [`select_list`] order; `None` for a row without
/// a login (or, with an id column, without a usable id).
pub(super) fn row_from_cells(map: &SqlMap, cells: &[Value]) -> Option<CustomerRow> {
    let mut row = CustomerRow::from_cells(|i| cells.get(i))?;
    if map.id.is_empty() {
        row.id = text_id(&row.login);
    }
    row.more_phones = cells.iter().skip(10).map(|v| crate::customers::db::value_text(Some(v))).collect();
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_reads_what_it_always_did() {
        let m = SqlMap::default();
        assert_eq!(
            full_sql(&m, Dialect::Mysql),
            "SELECT `id`, `login`, `customer_id`, `first_name`, `last_name`, `email`, `phone`, `mobile`, \
             `change_time`, `valid_id` FROM `customer_user` WHERE `valid_id` = ?"
        );
        let plain: String = select_list(&m, Dialect::Mysql).chars().filter(|c| *c != '`').collect();
        assert_eq!(plain, crate::customers::db::COLUMNS);
        assert!(changed_sql(&m, Dialect::Mysql)
            .expect("incremental")
            .ends_with("WHERE `change_time` >= DATE_ADD(?, INTERVAL ? MICROSECOND)"));
    }

    #[test]
    fn renamed_columns_and_missing_ones() {
        let m = SqlMap {
            table: "crm.people".into(),
            id: String::new(),
            login: "uname".into(),
            customer_id: String::new(),
            first_name: "given".into(),
            last_name: "family".into(),
            email: "mail".into(),
            phones: vec!["work_tel".into(), "cell".into(), "home_tel".into()],
            valid: String::new(),
            changed: String::new(),
        };
        let sql = full_sql(&m, Dialect::Postgres);
        assert_eq!(
            sql,
            "SELECT '0', CAST(\"uname\" AS TEXT), '', CAST(\"given\" AS TEXT), CAST(\"family\" AS TEXT), \
             CAST(\"mail\" AS TEXT), CAST(\"work_tel\" AS TEXT), CAST(\"cell\" AS TEXT), NULL, '1', \
             CAST(\"home_tel\" AS TEXT) FROM \"crm\".\"people\""
        );
        assert_eq!(changed_sql(&m, Dialect::Postgres), None);
        let m = SqlMap { changed: "modified".into(), valid: "active".into(), ..m };
        assert!(full_sql(&m, Dialect::Postgres).ends_with("WHERE CAST(\"active\" AS TEXT) IN ('1', 'true')"));
        let c = changed_sql(&m, Dialect::Postgres).expect("incremental");
        assert!(c.contains("to_char(\"modified\", 'YYYY-MM-DD HH24:MI:SS.US')"), "{c}");
        assert!(c.ends_with("WHERE \"modified\" >= CAST($1::text AS timestamp) + $2::bigint * INTERVAL '1 microsecond'"), "{c}");

        // Cells as PostgreSQL gives them (text); no id column: the login's hash.
        let text = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        let cells = [
            text("0"),
            text("jdoe"),
            text(""),
            text("John"),
            text("Doe"),
            text("j@x.invalid"),
            text("8 916 000 00 01"),
            Value::NULL,
            text("2026-01-01 10:00:00.250000"),
            Value::Int(1),
            text("+7 916 000 00 03"),
        ];
        let r = row_from_cells(&m, &cells).expect("a row");
        assert_eq!(r.id, text_id("jdoe"));
        assert_eq!((r.login.as_str(), r.phone.as_str(), r.mobile.as_str()), ("jdoe", "8 916 000 00 01", ""));
        assert_eq!(r.more_phones, vec!["+7 916 000 00 03".to_string()]);
        assert!(r.valid && r.change_time.is_some());
    }

    #[test]
    fn valid_texts() {
        for v in ["1", "t", "true", " TRUE "] {
            assert!(valid_text(v), "{v}");
        }
        for v in ["2", "0", "f", "false", "", "yes please"] {
            assert!(!valid_text(v), "{v}");
        }
    }
}
