//! `e2e-latency-bench`: the load and the stopwatch of `scripts/bench
//! e2e-latency` (not a test).
//!
//! Writes changes into table `w` of the source at a fixed rate, one
//! transaction per tick (by default 20 changes every 10 ms = 2,000/s: 16
//! inserts and 4 updates of rows this run inserted before), for a fixed
//! time. Each tick's transaction is a marker: the time its COMMIT returned,
//! and its largest id. A second connection polls the follower's
//! `max(id)` every `--poll-ms`; a marker's latency is the time from its
//! commit to the first poll that sees its id. The measure therefore
//! includes up to one poll interval and a poll query's time, the same for
//! every follower measured with it.
//!
//! `--probe` only inserts one row and waits until the follower has it (the
//! pipeline is up), so that the caller can measure CPU around the load
//! alone. Prints one line:
//! `LATENCY markers=N changes=N seconds=S rate_per_s=R p50_ms= p99_ms= max_ms=`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct Args {
    source: String,
    follower: String,
    rate: u64,
    seconds: u64,
    tick_ms: u64,
    poll_ms: u64,
    id_base: i64,
    probe: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        source: String::new(),
        follower: String::new(),
        rate: 2000,
        seconds: 60,
        tick_ms: 10,
        poll_ms: 2,
        id_base: 1_000_000_000,
        probe: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--probe" {
            a.probe = true;
            continue;
        }
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--source" => a.source = v,
            "--follower" => a.follower = v,
            "--rate" => a.rate = v.parse()?,
            "--seconds" => a.seconds = v.parse()?,
            "--tick-ms" => a.tick_ms = v.parse()?,
            "--poll-ms" => a.poll_ms = v.parse()?,
            "--id-base" => a.id_base = v.parse()?,
            _ => bail!("unknown argument {k}"),
        }
    }
    if a.source.is_empty() || a.follower.is_empty() {
        bail!(
            "usage: e2e-latency-bench --source URL --follower URL [--rate N] [--seconds N] [--tick-ms N] [--poll-ms N] [--id-base N] [--probe]"
        );
    }
    Ok(a)
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The follower's largest id (0 while the table is empty or missing).
async fn max_id(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT coalesce(max(id), 0) FROM w", &[])
        .await
        .map_or(0, |r| r.get(0))
}

/// Inserts rows `lo..=hi` of table w.
fn insert_sql(lo: i64, hi: i64) -> String {
    format!(
        "INSERT INTO w (id, account, amount, status, note, updated_at)
         SELECT g, g % 9973, (g % 100000) / 100.0, 'new', repeat(md5(g::text), 2) || '-note', now()
         FROM generate_series({lo}, {hi}) g"
    )
}

/// Updates rows `lo..=hi` of table w.
fn update_sql(lo: i64, hi: i64) -> String {
    format!(
        "UPDATE w SET amount = amount + 1, status = 'updated', updated_at = now()
         WHERE id BETWEEN {lo} AND {hi}"
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let source = connect(&a.source).await?;
    let follower = connect(&a.follower).await?;
    if a.probe {
        let id = a.id_base;
        source.batch_execute(&insert_sql(id, id)).await?;
        let deadline = Instant::now() + Duration::from_secs(180);
        while max_id(&follower).await < id {
            if Instant::now() > deadline {
                bail!("the follower did not get probe row {id} within 180 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("PROBE ok id={id}");
        return Ok(());
    }
    let per_tick = (a.rate * a.tick_ms / 1000).max(1);
    let updates = per_tick / 5;
    let inserts = i64::try_from(per_tick - updates)?;
    let updates = i64::try_from(updates)?;
    let ticks = a.seconds * 1000 / a.tick_ms;
    let markers: std::sync::Arc<std::sync::Mutex<VecDeque<(i64, Instant)>>> =
        std::sync::Arc::default();
    let latencies: std::sync::Arc<std::sync::Mutex<Vec<f64>>> = std::sync::Arc::default();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    let poller = {
        let markers = markers.clone();
        let latencies = latencies.clone();
        let done = done.clone();
        let poll = Duration::from_millis(a.poll_ms);
        tokio::spawn(async move {
            loop {
                let seen = max_id(&follower).await;
                let now = Instant::now();
                {
                    let mut m = markers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let mut l = latencies
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    while m.front().is_some_and(|(id, _)| *id <= seen) {
                        if let Some((_, at)) = m.pop_front() {
                            l.push(now.duration_since(at).as_secs_f64() * 1000.0);
                        }
                    }
                    if done.load(std::sync::atomic::Ordering::SeqCst) && m.is_empty() {
                        return;
                    }
                }
                tokio::time::sleep(poll).await;
            }
        })
    };

    let started = Instant::now();
    let mut next_id = a.id_base + 1;
    let mut changes: u64 = 0;
    let mut behind: u64 = 0;
    for k in 0..ticks {
        let due = started + Duration::from_millis(k * a.tick_ms);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        } else if now.duration_since(due) > Duration::from_millis(a.tick_ms) {
            behind += 1;
        }
        let lo = next_id;
        let hi = lo + inserts - 1;
        next_id = hi + 1;
        // Update rows of an earlier tick (this run's), when there is one.
        let upd_lo = lo - 10 * inserts;
        let tx = format!(
            "BEGIN; {}; {}; COMMIT;",
            insert_sql(lo, hi),
            if upd_lo > a.id_base {
                update_sql(upd_lo, upd_lo + updates - 1)
            } else {
                "SELECT 1".to_string()
            }
        );
        source.batch_execute(&tx).await?;
        let committed = Instant::now();
        changes += u64::try_from(inserts)?
            + if upd_lo > a.id_base {
                u64::try_from(updates)?
            } else {
                0
            };
        markers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back((hi, committed));
    }
    let wrote = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    if tokio::time::timeout(Duration::from_secs(120), poller)
        .await
        .is_err()
    {
        let left = markers.lock().map(|m| m.len()).unwrap_or(0);
        bail!("{left} markers never reached the follower within 120 s after the load");
    }
    let mut l = latencies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    l.sort_by(f64::total_cmp);
    if behind > 0 {
        eprintln!(
            "e2e-latency-bench: {behind} ticks started more than a tick late (the source could not take the rate)"
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = changes as f64 / wrote;
    println!(
        "LATENCY markers={} changes={changes} seconds={wrote:.1} rate_per_s={rate:.0} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        l.len(),
        percentile(&l, 0.50),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
