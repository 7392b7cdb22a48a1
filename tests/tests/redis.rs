//! Redis smoke tests.

use rowlog_tests::RedisServer;
use rowlog_tests::ports::check_drop_cleans_up;

#[tokio::test]
async fn ping_pong() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let mut con = redis.client()?.get_multiplexed_async_connection().await?;
    let pong: String = redis::cmd("PING").query_async(&mut con).await?;
    assert_eq!(pong, "PONG");
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut con)
        .await?;
    let v: String = redis::cmd("GET").arg("k").query_async(&mut con).await?;
    assert_eq!(v, "v");
    Ok(())
}

#[tokio::test]
async fn drop_stops_server_and_removes_dir() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let (port, dir) = (redis.port(), redis.dir().to_owned());
    check_drop_cleans_up(redis, port, &dir)
}
