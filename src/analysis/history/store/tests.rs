use super::*;
use crate::time::Timestamp;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stripwatch-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn key(starttls: StarttlsSeen, banner: &str) -> ObservationKey {
    ObservationKey {
        server: Endpoint {
            ip: "192.0.2.25".parse().unwrap(),
            port: 25,
        },
        protocol: "smtp".into(),
        starttls,
        banner_sha256: banner.into(),
        capabilities_sha256: "".into(),
        tls_version: "".into(),
        certificate_sha256: "".into(),
    }
}

fn tally(sessions: u64, first: i64, last: i64, banner: &str) -> Observation {
    Observation {
        sessions,
        first_seen: Timestamp::new(first, 0),
        last_seen: Timestamp::new(last, 0),
        banner: banner.into(),
        capabilities: "".into(),
        certificate_subject: "".into(),
        certificate_issuer: "".into(),
    }
}

#[test]
fn a_new_file_is_private_and_reopens_with_its_rows_summed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("new");
    let path = dir.join("history.db");
    let location = path.to_str().unwrap();
    let k = key(StarttlsSeen::Offered, "b1");
    {
        let mut store = Store::open(location, true).unwrap();
        store
            .commit("tap-a", &[(&k, &tally(3, 100, 200, "first"))])
            .unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut store = Store::open(location, false).unwrap();
    store
        .commit("tap-a", &[(&k, &tally(2, 50, 300, "later"))])
        .unwrap();
    store
        .commit("tap-b", &[(&k, &tally(1, 150, 150, "b"))])
        .unwrap();
    let rows = store.rows().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].sensor, "tap-a");
    assert_eq!(rows[0].tally, tally(5, 50, 300, "later"));
    assert_eq!(rows[1].sensor, "tap-b");
    let offers = store.offers().unwrap();
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[0].2.sessions + offers[1].2.sessions, 6);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_older_schema_is_migrated_with_its_rows() {
    let dir = temp_dir("migrate");
    let path = dir.join("v1.db");
    let location = path.to_str().unwrap();
    {
        let mut store = Store::open(location, true).unwrap();
        // `open` went to the current version; build a version 1 file instead.
        drop(store);
        std::fs::remove_file(&path).unwrap();
        create_private(&path).unwrap();
        store = Store {
            backend: Backend::Sqlite(rusqlite::Connection::open(&path).unwrap()),
            shown: location.into(),
        };
        store.migrate(1).unwrap();
        if let Backend::Sqlite(conn) = &store.backend {
            conn.execute(
                "INSERT INTO server_starttls VALUES ('192.0.2.25', 25, 'smtp', 'tap-a', 'offered', 58, 1000000, 2000000)",
                [],
            )
            .unwrap();
        }
    }
    let mut store = Store::open(location, false).unwrap();
    let rows = store.rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, key(StarttlsSeen::Offered, ""));
    assert_eq!(rows[0].tally.sessions, 58);
    assert_eq!(rows[0].tally.first_seen, Timestamp::new(1, 0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_newer_schema_a_corrupt_file_a_foreign_database_and_a_link_are_refused() {
    let dir = temp_dir("refused");
    let newer = dir.join("newer.db");
    drop(Store::open(newer.to_str().unwrap(), true).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "UPDATE stripwatch_meta SET value = '99' WHERE name = 'schema_version'",
            [],
        )
        .unwrap();
    let e = Store::open(newer.to_str().unwrap(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("version 99, newer than this stripwatch's (3)"),
        "{e}"
    );

    let corrupt = dir.join("corrupt.db");
    std::fs::write(&corrupt, vec![0x5a; 8192]).unwrap();
    let e = Store::open(corrupt.to_str().unwrap(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not an SQLite database, or corrupt"), "{e}");
    assert_eq!(std::fs::read(&corrupt).unwrap(), vec![0x5a; 8192]);

    let foreign = dir.join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute("CREATE TABLE mail (id INTEGER)", [])
        .unwrap();
    let e = Store::open(foreign.to_str().unwrap(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a stripwatch history"), "{e}");

    let link = dir.join("link.db");
    std::os::unix::fs::symlink(&newer, &link).unwrap();
    let e = Store::open(link.to_str().unwrap(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("symbolic link"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_url_password_is_never_shown() {
    assert_eq!(
        shown_location("postgresql://sensor:hunter2@db.example/history"),
        "postgresql://sensor:***@db.example/history"
    );
    assert_eq!(
        shown_location("postgres:///history?host=/run/pg&password=hunter2&user=x"),
        "postgres:///history?host=/run/pg&password=***&user=x"
    );
    assert_eq!(
        shown_location("postgres://sensor@db/history"),
        "postgres://sensor@db/history"
    );
}

#[test]
fn the_same_batch_twice_is_added_once() {
    let dir = temp_dir("batch");
    let path = dir.join("h.db");
    let mut store = Store::open(path.to_str().unwrap(), true).unwrap();
    let k = key(StarttlsSeen::Offered, "b1");
    let batch = [(&k, &tally(3, 100, 200, "x"))];
    assert!(store.commit("tap-a", &batch).unwrap());
    assert!(!store.commit("tap-a", &batch).unwrap());
    // Another sensor's identical batch is its own observation.
    assert!(store.commit("tap-b", &batch).unwrap());
    // A later batch of the same server adds up.
    assert!(
        store
            .commit("tap-a", &[(&k, &tally(1, 300, 300, "y"))])
            .unwrap()
    );
    let rows = store.rows().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.tally.sessions).collect::<Vec<_>>(),
        [4, 3]
    );
    std::fs::remove_dir_all(dir).unwrap();
}
