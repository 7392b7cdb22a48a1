//! A start attempt that finds its port taken retries on another port, and
//! the readiness probe never mistakes another server on the port for ours.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;

use crate::ports::{FORCED_PORTS, free_port};
use crate::{KafkaServer, MariaDbServer, PostgresServer, RedisServer, SearchServer};

/// A port held by a plain listener, forced as the next "free" port.
fn take_port_and_force_it() -> (TcpListener, u16) {
    let port = free_port().expect("free port");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind");
    FORCED_PORTS.with(|f| f.borrow_mut().push_back(port));
    (listener, port)
}

fn assert_log_says_in_use(log: &Path) {
    let text = std::fs::read_to_string(log).expect("server log");
    assert!(
        crate::ports::log_says_port_in_use(&text),
        "first attempt's failure not in {}:\n{text}",
        log.display()
    );
}

#[tokio::test]
async fn postgres_retries_on_taken_port() {
    let (_held, taken) = take_port_and_force_it();
    let pg = PostgresServer::start().await.expect("start");
    assert_ne!(pg.port(), taken);
    assert_log_says_in_use(pg.log_path());
}

#[tokio::test]
async fn mariadb_retries_on_taken_port() {
    let (_held, taken) = take_port_and_force_it();
    let db = MariaDbServer::start().await.expect("start");
    assert_ne!(db.port(), taken);
    assert_log_says_in_use(db.log_path());
}

#[tokio::test]
async fn redis_retries_on_taken_port() {
    let (_held, taken) = take_port_and_force_it();
    let redis = RedisServer::start().await.expect("start");
    assert_ne!(redis.port(), taken);
    assert_log_says_in_use(&redis.dir().join("redis.log"));
}

#[tokio::test]
async fn kafka_retries_on_taken_port() {
    let (_held, taken) = take_port_and_force_it();
    let kafka = KafkaServer::start().await.expect("start");
    assert_ne!(kafka.port(), taken);
    assert_log_says_in_use(&kafka.dir().join("tansu.log"));
}

#[tokio::test]
async fn search_retries_on_taken_port() {
    let (_held, taken) = take_port_and_force_it();
    let search = SearchServer::start().await.expect("start");
    assert_ne!(search.port(), taken);
    assert_log_says_in_use(&search.dir().join("osmem.log"));
}

/// The worst case: the port is held by a *working* server of the same kind.
/// The probe must see that the answers come from another process, wait for
/// our child to give up, and retry elsewhere.
#[tokio::test]
async fn same_kind_server_on_the_port_is_not_taken_for_ours() {
    let first = RedisServer::start().await.expect("first");
    FORCED_PORTS.with(|f| f.borrow_mut().push_back(first.port()));
    let second = RedisServer::start().await.expect("second");
    assert_ne!(second.port(), first.port());
    assert_log_says_in_use(&second.dir().join("redis.log"));

    let pg = PostgresServer::start().await.expect("first pg");
    FORCED_PORTS.with(|f| f.borrow_mut().push_back(pg.port()));
    let pg2 = PostgresServer::start().await.expect("second pg");
    assert_ne!(pg2.port(), pg.port());
    assert_log_says_in_use(pg2.log_path());
}
