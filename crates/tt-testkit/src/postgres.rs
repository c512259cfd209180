//! Fresh PostgreSQL databases for tests and benchmarks that run against the server named
//! by `TT_TEST_POSTGRES_URL`.

use sqlx::Connection;

/// Creates a database named `<prefix>_<random>` on the server `admin_url` points at (a role
/// allowed to create databases) and returns its URL. The server must answer: a test that was
/// told to use PostgreSQL fails when it cannot.
pub async fn fresh_database(admin_url: &str, prefix: &str) -> String {
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap_or_else(|err| {
        panic!("TT_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached: {err}")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|err| panic!("could not create the test database {name}: {err}"));
    let _ = admin.close().await;
    database_url(admin_url, &name)
}

/// `admin_url` with its database name replaced by `name`, keeping any query string.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) =
        admin_url.split_once('?').map_or((admin_url, None), |(base, query)| (base, Some(query)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(database_url("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(
            database_url("postgres://u@h/postgres?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
        assert_eq!(database_url("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
