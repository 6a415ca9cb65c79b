//! A MySQL / MariaDB table of customers: Znuny's own `customer_user` or any
//! table with a column map.

use mysql::prelude::Queryable;
use mysql::Conn;

use super::config::SqlMap;
use super::sql::{changed_sql, full_sql, row_from_cells, Dialect};
use super::CustomerSource;
use crate::customers::db::{ChangeTime, CustomerRow, DbSettings};

#[derive(Debug)]
pub(crate) struct MysqlSource {
    db: DbSettings,
    map: SqlMap,
}

impl MysqlSource {
    pub(crate) fn new(db: DbSettings, map: SqlMap) -> Self {
        MysqlSource { db, map }
    }
}

impl CustomerSource for MysqlSource {
    fn kind(&self) -> &'static str {
        "mysql"
    }

    fn describe(&self) -> String {
        format!("{} user '{}' table {}", self.db.target(), self.db.user, self.map.table)
    }

    fn incremental(&self) -> bool {
        !self.map.changed.is_empty()
    }

    /// A connection per refresh: refreshes are seconds apart, and a fresh
    /// connection needs no handling of one the server closed meanwhile
    /// (wait_timeout, restarts).
    fn fetch(&self, since: Option<(ChangeTime, i64)>, each: &mut dyn FnMut(CustomerRow)) -> Result<(), String> {
        let table = &self.map.table;
        let fail = |what: &str, e: mysql::Error| self.db.scrub(format!("{what} {}: {e}", self.db.target()));
        let read_fail = |e| fail(&format!("cannot read {table} from"), e);
        let mut conn = Conn::new(self.db.opts()).map_err(|e| fail("cannot connect to the OTRS database at", e))?;
        let result = match since {
            None if self.map.valid.is_empty() => conn.exec_iter(full_sql(&self.map, Dialect::Mysql), ()),
            None => conn.exec_iter(full_sql(&self.map, Dialect::Mysql), (1u8,)),
            Some((t, micros)) => {
                let Some(sql) = changed_sql(&self.map, Dialect::Mysql) else {
                    return Ok(());
                };
                conn.exec_iter(sql, (t.to_value(), micros))
            }
        }
        .map_err(read_fail)?;
        for row in result {
            let row = row.map_err(read_fail)?;
            let cells = row.unwrap();
            // A row without id or login cannot be a ticket's customer: skip it.
            if let Some(row) = row_from_cells(&self.map, &cells) {
                each(row);
            }
        }
        Ok(())
    }

    fn secrets(&self) -> Vec<&str> {
        vec![&self.db.password]
    }
}
