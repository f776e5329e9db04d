//! Concurrency stress tests: many clients over real pgwire connections against an in-process
//! sledgres, each test bounded in time (a few seconds of load on a 2-core machine).
//!
//! Isolation specs (one permutation at a time, every step checked) prove that each level
//! behaves as PostgreSQL's in the small; these tests prove the invariants survive *load* —
//! interleavings nobody wrote down:
//!
//! - **bank**: money moves between accounts at SERIALIZABLE, REPEATABLE READ (read both
//!   balances, write both back: lost-update prone unless the level prevents it) and READ
//!   COMMITTED (`balance = balance ± x`, safe through EvalPlanQual), with retries on 40001/40P01,
//!   while readers sum the balances. Every snapshot must see the same total, and every account
//!   must end at exactly what the acknowledged transfers say.
//! - **write skew**: the on-call doctors. Pairs of transactions each check "two doctors are on
//!   call" and take a *different* doctor off call; a barrier between the read and the write makes
//!   every pair overlap. REPEATABLE READ must show the anomaly; SERIALIZABLE must never.
//! - **bounded space**: a steady update load on a small table while vacuum runs: the number of
//!   stored versions stays bounded, a REPEATABLE READ snapshot opened before the load reads the
//!   old values throughout, and once it ends its versions are reclaimed.
//! - **lost update**: `n = n + 1` from many READ COMMITTED clients; the counter equals the number
//!   of acknowledged updates.
//! - **disconnect storm**: clients vanish mid-transaction holding row locks; waiters must not
//!   hang and nothing the vanished clients wrote may remain.
//!
//! Nothing here asserts timing: sleeps only give the scheduler a chance to produce the
//! interleavings we want, and every wait has a generous timeout that turns a hang into a
//! failure instead of a stuck test run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sledgres::{RunningServer, ServerConfig};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

/// Any single test must finish well within this, or it has hung.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Pause between background vacuum passes in these tests: far shorter than the default, so
/// vacuum races with every reader and writer of the workloads.
const AGGRESSIVE_AUTOVACUUM: Duration = Duration::from_millis(5);

/// A fresh in-process server on a free port with a temporary data directory, its background
/// vacuum running every [`AGGRESSIVE_AUTOVACUUM`].
async fn start() -> (RunningServer, Config) {
    let server = sledgres::start(ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: None,
    })
    .await
    .expect("in-process sledgres starts");
    server
        .database()
        .store()
        .set_autovacuum_interval(AGGRESSIVE_AUTOVACUUM);
    let mut config = Config::new();
    config
        .host(server.addr.ip().to_string())
        .port(server.addr.port())
        .user("postgres")
        .dbname("postgres")
        .application_name("stress")
        .connect_timeout(Duration::from_secs(10));
    (server, config)
}

/// A connection whose driver task we keep: aborting it drops the socket without a Terminate
/// message, exactly like a client process that dies.
struct Conn {
    client: Client,
    driver: JoinHandle<()>,
}

impl Conn {
    async fn open(config: &Config) -> Conn {
        let (client, connection) = config.connect(NoTls).await.expect("connect");
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Conn { client, driver }
    }

    /// The socket goes away mid-whatever (no Terminate).
    fn kill(self) {
        self.driver.abort();
        drop(self.client);
    }
}

async fn connect(config: &Config) -> Client {
    sql_tests::target::connect(config).await.expect("connect")
}

/// Runs a test body under [`TEST_TIMEOUT`], then shuts the server down.
async fn run<F, Fut>(body: F)
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (server, config) = start().await;
    let outcome = tokio::time::timeout(TEST_TIMEOUT, body(config)).await;
    server.shutdown().await;
    assert!(
        outcome.is_ok(),
        "test did not finish within {TEST_TIMEOUT:?} (hang?)"
    );
}

/// A small deterministic PRNG (xorshift64*): reproducible workloads without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The SQLSTATE of an error, or a description of an error that has none (connection loss).
fn sqlstate(e: &tokio_postgres::Error) -> Result<SqlState, String> {
    match e.as_db_error() {
        Some(db) => Ok(db.code().clone()),
        None => Err(format!("error without SQLSTATE: {e}")),
    }
}

/// Classifies a failed attempt: an allowed retry reason, or a test failure.
fn retry_reason(e: &tokio_postgres::Error, allowed: &[SqlState]) -> Result<SqlState, String> {
    let code = sqlstate(e)?;
    if allowed.contains(&code) {
        Ok(code)
    } else {
        Err(format!(
            "unexpected error {}: {e:?} (allowed: {:?})",
            code.code(),
            allowed.iter().map(|c| c.code()).collect::<Vec<_>>()
        ))
    }
}

/// Ends a transaction after an error; the error (if the transaction already ended) is moot.
async fn rollback(c: &Client) {
    let _ = c.batch_execute("ROLLBACK").await;
}

/// Joins tasks, turning a panic or an `Err` in any of them into a test failure.
async fn join_all<T>(tasks: Vec<JoinHandle<Result<T, String>>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => panic!("task failed: {e}"),
            Err(e) => panic!("task panicked: {e}"),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Bank
// ---------------------------------------------------------------------------------------------

const ACCOUNTS: i32 = 10;
const INITIAL_BALANCE: i32 = 1_000;
const TRANSFER_CLIENTS: u64 = 6;
const SUM_READERS: u64 = 2;
const BANK_LOAD: Duration = Duration::from_secs(4);

/// What one transfer client did.
#[derive(Default)]
struct TransferLog {
    /// Acknowledged transfers: (from, to, amount).
    committed: Vec<(i32, i32, i32)>,
    retries: HashMap<String, u64>,
}

/// What one sum reader did.
#[derive(Default)]
struct ReaderLog {
    sums_read: u64,
    retries: HashMap<String, u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Level {
    fn sql(self) -> &'static str {
        match self {
            Level::ReadCommitted => "READ COMMITTED",
            Level::RepeatableRead => "REPEATABLE READ",
            Level::Serializable => "SERIALIZABLE",
        }
    }

    /// The errors a client at this level must be ready to retry. READ COMMITTED never fails a
    /// serialization check in PostgreSQL; it can only deadlock.
    fn retryable(self) -> Vec<SqlState> {
        match self {
            Level::ReadCommitted => vec![SqlState::T_R_DEADLOCK_DETECTED],
            _ => vec![
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
            ],
        }
    }
}

async fn bank_setup(config: &Config) {
    let c = connect(config).await;
    c.batch_execute(
        "CREATE TABLE accounts (id integer PRIMARY KEY, balance integer NOT NULL); \
         CREATE INDEX accounts_balance ON accounts (balance)",
    )
    .await
    .expect("create accounts");
    for id in 1..=ACCOUNTS {
        c.execute(
            "INSERT INTO accounts VALUES ($1, $2)",
            &[&id, &INITIAL_BALANCE],
        )
        .await
        .expect("insert account");
    }
}

/// One transfer attempt in one transaction. At READ COMMITTED with single-statement
/// `balance = balance ± x` updates; at the snapshot levels by reading both balances and writing
/// the computed values back (which only the level's write-conflict checks keep correct).
/// With `undone`, a write to that account inside a savepoint that is rolled back comes between
/// the two halves: it must leave neither its change nor its row lock behind.
async fn transfer(
    c: &Client,
    level: Level,
    from: i32,
    to: i32,
    amount: i32,
    undone: Option<i32>,
) -> Result<(), tokio_postgres::Error> {
    c.batch_execute(&format!("BEGIN ISOLATION LEVEL {}", level.sql()))
        .await?;
    let undo = || async {
        if let Some(id) = undone {
            c.batch_execute("SAVEPOINT undone").await?;
            c.execute(
                "UPDATE accounts SET balance = balance + 1000000 WHERE id = $1",
                &[&id],
            )
            .await?;
            c.batch_execute("ROLLBACK TO SAVEPOINT undone").await?;
        }
        Ok::<_, tokio_postgres::Error>(())
    };
    let updated = if level == Level::ReadCommitted {
        let a = c
            .execute(
                "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
                &[&amount, &from],
            )
            .await?;
        undo().await?;
        let b = c
            .execute(
                "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
                &[&amount, &to],
            )
            .await?;
        a + b
    } else {
        let get = "SELECT balance FROM accounts WHERE id = $1";
        let from_balance: i32 = c.query_one(get, &[&from]).await?.get(0);
        let to_balance: i32 = c.query_one(get, &[&to]).await?.get(0);
        let set = "UPDATE accounts SET balance = $1 WHERE id = $2";
        let a = c.execute(set, &[&(from_balance - amount), &from]).await?;
        undo().await?;
        let b = c.execute(set, &[&(to_balance + amount), &to]).await?;
        a + b
    };
    assert_eq!(updated, 2, "a transfer updates exactly two rows");
    c.batch_execute("COMMIT").await
}

async fn transfer_client(
    config: Config,
    level: Level,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Result<TransferLog, String> {
    let c = connect(&config).await;
    let mut rng = Rng::new(seed);
    let mut log = TransferLog::default();
    let allowed = level.retryable();
    while !stop.load(Ordering::Relaxed) {
        let from = 1 + rng.below(ACCOUNTS as u64) as i32;
        let to = 1 + (from as u64 + rng.below(ACCOUNTS as u64 - 1)) as i32 % ACCOUNTS;
        let amount = 1 + rng.below(100) as i32;
        let undone = (rng.below(3) == 0).then(|| 1 + rng.below(ACCOUNTS as u64) as i32);
        // Retry the same transfer until it commits, as an application would.
        loop {
            match transfer(&c, level, from, to, amount, undone).await {
                Ok(()) => {
                    log.committed.push((from, to, amount));
                    break;
                }
                Err(e) => {
                    rollback(&c).await;
                    let code = retry_reason(&e, &allowed)?;
                    *log.retries.entry(code.code().to_string()).or_default() += 1;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
        }
    }
    Ok(log)
}

/// Sums the balances in its own transactions at `level`, twice per transaction: every sum any
/// snapshot shows must be the initial total (a transfer is atomic), and at the snapshot levels
/// both reads of one transaction agree.
async fn sum_reader(
    config: Config,
    level: Level,
    stop: Arc<AtomicBool>,
) -> Result<ReaderLog, String> {
    let c = connect(&config).await;
    let expected = i64::from(ACCOUNTS) * i64::from(INITIAL_BALANCE);
    let mut log = ReaderLog::default();
    let allowed = level.retryable();
    // Alternate plain and READ ONLY transactions (the latter take SSI's read-only paths).
    let mut read_only = false;
    while !stop.load(Ordering::Relaxed) {
        read_only = !read_only;
        let begin = format!(
            "BEGIN ISOLATION LEVEL {}{}",
            level.sql(),
            if read_only { " READ ONLY" } else { "" }
        );
        let attempt = async {
            c.batch_execute(&begin).await?;
            let q = "SELECT sum(balance), count(*) FROM accounts";
            let first = c.query_one(q, &[]).await?;
            // The second read goes through the index on balance (a range on its prefix):
            // index entries and row versions must tell the same story.
            let q = "SELECT sum(balance), count(*) FROM accounts WHERE balance >= -1000000";
            let second = c.query_one(q, &[]).await?;
            c.batch_execute("COMMIT").await?;
            Ok::<_, tokio_postgres::Error>((
                first.get::<_, i64>(0),
                first.get::<_, i64>(1),
                second.get::<_, i64>(0),
                second.get::<_, i64>(1),
            ))
        };
        match attempt.await {
            Ok((sum1, count1, sum2, count2)) => {
                let n = i64::from(ACCOUNTS);
                if sum1 != expected || sum2 != expected || count1 != n || count2 != n {
                    return Err(format!(
                        "{level:?} reader saw sums {sum1} and {sum2} over {count1} and \
                         {count2} accounts, expected {expected} over {ACCOUNTS}"
                    ));
                }
                log.sums_read += 1;
            }
            Err(e) => {
                rollback(&c).await;
                let code = retry_reason(&e, &allowed)?;
                *log.retries.entry(code.code().to_string()).or_default() += 1;
            }
        }
    }
    Ok(log)
}

async fn bank(level: Level) {
    run(|config| async move {
        bank_setup(&config).await;
        let stop = Arc::new(AtomicBool::new(false));
        let movers: Vec<_> = (0..TRANSFER_CLIENTS)
            .map(|i| tokio::spawn(transfer_client(config.clone(), level, i + 1, stop.clone())))
            .collect();
        let readers: Vec<_> = (0..SUM_READERS)
            .map(|_| tokio::spawn(sum_reader(config.clone(), level, stop.clone())))
            .collect();
        tokio::time::sleep(BANK_LOAD).await;
        stop.store(true, Ordering::Relaxed);
        let movers = join_all(movers).await;
        let readers = join_all(readers).await;

        let mut expected: HashMap<i32, i64> = (1..=ACCOUNTS)
            .map(|id| (id, i64::from(INITIAL_BALANCE)))
            .collect();
        let mut committed = 0;
        let mut retries: HashMap<String, u64> = HashMap::new();
        for log in &movers {
            committed += log.committed.len();
            for &(from, to, amount) in &log.committed {
                *expected.entry(from).or_default() -= i64::from(amount);
                *expected.entry(to).or_default() += i64::from(amount);
            }
            for (code, n) in &log.retries {
                *retries.entry(code.clone()).or_default() += n;
            }
        }
        let sums_read: u64 = readers.iter().map(|r| r.sums_read).sum();
        let mut reader_retries: HashMap<String, u64> = HashMap::new();
        for log in &readers {
            for (code, n) in &log.retries {
                *reader_retries.entry(code.clone()).or_default() += n;
            }
        }
        eprintln!(
            "bank {level:?}: {committed} transfers committed, retries {retries:?}; \
             {sums_read} sums read, reader retries {reader_retries:?}"
        );
        assert!(committed > 0, "no transfer committed");
        assert!(sums_read > 0, "no sum was read");

        // Every acknowledged transfer applied exactly once, nothing else.
        let c = connect(&config).await;
        let rows = c
            .query("SELECT id, balance FROM accounts ORDER BY id", &[])
            .await
            .expect("final balances");
        let actual: HashMap<i32, i64> = rows
            .iter()
            .map(|r| (r.get::<_, i32>(0), i64::from(r.get::<_, i32>(1))))
            .collect();
        assert_eq!(
            actual, expected,
            "final balances differ from the acknowledged transfers"
        );
        let total: i64 = actual.values().sum();
        assert_eq!(total, i64::from(ACCOUNTS) * i64::from(INITIAL_BALANCE));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_serializable() {
    bank(Level::Serializable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_repeatable_read() {
    bank(Level::RepeatableRead).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_read_committed() {
    bank(Level::ReadCommitted).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Write skew
// ---------------------------------------------------------------------------------------------

/// Concurrent pairs (each on its own group, so pairs also interleave with each other).
const SKEW_PAIRS: i32 = 3;
const SKEW_ROUNDS: i32 = 8;

/// Two classic write-skew workloads: each transaction checks a constraint over a group of
/// rows, then writes something the other transaction's check would have seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Skew {
    /// "At least one doctor of the shift stays on call": each side sees two on call and takes
    /// *itself* off call (an UPDATE of a different row than the other side's).
    Doctors,
    /// "A group's claims never exceed 100": the group holds 40, each side sees 40 and inserts
    /// another 40 (a *phantom* for the other side's predicate read: no row both touch).
    Claims,
}

impl Skew {
    fn setup(self) -> &'static str {
        match self {
            Skew::Doctors => {
                "CREATE TABLE doctors (shift integer, name text, on_call boolean NOT NULL, \
                 PRIMARY KEY (shift, name))"
            }
            Skew::Claims => {
                "CREATE TABLE claims (grp integer, id integer, amount integer NOT NULL, \
                 PRIMARY KEY (grp, id))"
            }
        }
    }

    /// Fills group `g` before a round.
    async fn fill(self, c: &Client, g: i32) {
        let sql = match self {
            Skew::Doctors => "INSERT INTO doctors VALUES ($1, 'alice', true), ($1, 'bob', true)",
            Skew::Claims => "INSERT INTO claims VALUES ($1, 0, 40)",
        };
        c.execute(sql, &[&g]).await.expect("fill the group");
    }

    /// The constraint's current measure for group `g`: doctors on call, or the claims' total.
    async fn measure(self, c: &Client, g: i32) -> Result<i64, tokio_postgres::Error> {
        let sql = match self {
            Skew::Doctors => "SELECT count(*) FROM doctors WHERE shift = $1 AND on_call",
            Skew::Claims => "SELECT coalesce(sum(amount), 0) FROM claims WHERE grp = $1",
        };
        Ok(c.query_one(sql, &[&g]).await?.get(0))
    }

    /// Whether a side that measured `m` may act without breaking the constraint.
    fn may_act(self, m: i64) -> bool {
        match self {
            Skew::Doctors => m >= 2,
            Skew::Claims => m + 40 <= 100,
        }
    }

    /// The write of side `side` (1 or 2) in group `g`.
    async fn act(self, c: &Client, g: i32, side: i32) -> Result<u64, tokio_postgres::Error> {
        match self {
            Skew::Doctors => {
                let name = if side == 1 { "alice" } else { "bob" };
                c.execute(
                    "UPDATE doctors SET on_call = false WHERE shift = $1 AND name = $2",
                    &[&g, &name],
                )
                .await
            }
            Skew::Claims => {
                c.execute("INSERT INTO claims VALUES ($1, $2, 40)", &[&g, &side])
                    .await
            }
        }
    }

    /// The measure after `acted` sides acted.
    fn expected(self, acted: i64) -> i64 {
        match self {
            Skew::Doctors => 2 - acted,
            Skew::Claims => 40 + 40 * acted,
        }
    }

    /// Whether measure `m` breaks the constraint.
    fn violated(self, m: i64) -> bool {
        match self {
            Skew::Doctors => m < 1,
            Skew::Claims => m > 100,
        }
    }
}

/// What one side of a round did.
struct SkewOutcome {
    /// Whether this side wrote.
    acted: bool,
    /// Serialization failures before it committed.
    failures: u64,
}

/// One side's transaction: measure the group; if the constraint allows, write. On the first
/// attempt both sides of the pair meet at `barrier` after reading and before writing, so the
/// two transactions always overlap. Retries on 40001 until it commits.
async fn skew_side(
    c: Client,
    level: Level,
    skew: Skew,
    group: i32,
    side: i32,
    barrier: Arc<Barrier>,
) -> Result<(Client, SkewOutcome), String> {
    let mut failures = 0;
    let mut first = true;
    loop {
        let read = async {
            c.batch_execute(&format!("BEGIN ISOLATION LEVEL {}", level.sql()))
                .await?;
            skew.measure(&c, group).await
        }
        .await;
        if first {
            // Meet the other side even if the read failed, so it never waits forever.
            barrier.wait().await;
            first = false;
        }
        let result = match read {
            Ok(m) => {
                async {
                    let go = skew.may_act(m);
                    if go {
                        let n = skew.act(&c, group, side).await?;
                        assert_eq!(n, 1, "the write touches one row");
                    }
                    c.batch_execute("COMMIT").await?;
                    Ok::<_, tokio_postgres::Error>(go)
                }
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(acted) => return Ok((c, SkewOutcome { acted, failures })),
            Err(e) => {
                rollback(&c).await;
                retry_reason(&e, &[SqlState::T_R_SERIALIZATION_FAILURE])?;
                failures += 1;
            }
        }
    }
}

/// Runs the rounds; returns (groups that ended with the constraint broken, serialization
/// failures).
async fn write_skew(config: &Config, level: Level, skew: Skew) -> (u64, u64) {
    let setup = connect(config).await;
    setup
        .batch_execute(skew.setup())
        .await
        .expect("create table");
    let mut pairs = Vec::new();
    for _ in 0..SKEW_PAIRS {
        pairs.push((connect(config).await, connect(config).await));
    }
    let mut violations = 0;
    let mut failures = 0;
    for round in 0..SKEW_ROUNDS {
        let mut tasks = Vec::new();
        for (p, (one, two)) in pairs.drain(..).enumerate() {
            let group = round * SKEW_PAIRS + p as i32;
            skew.fill(&setup, group).await;
            let barrier = Arc::new(Barrier::new(2));
            tasks.push(tokio::spawn(skew_side(
                one,
                level,
                skew,
                group,
                1,
                barrier.clone(),
            )));
            tasks.push(tokio::spawn(skew_side(two, level, skew, group, 2, barrier)));
        }
        let mut outcomes = join_all(tasks).await.into_iter();
        for p in 0..SKEW_PAIRS {
            let group = round * SKEW_PAIRS + p;
            let (one, a) = outcomes.next().expect("first side's outcome");
            let (two, b) = outcomes.next().expect("second side's outcome");
            pairs.push((one, two));
            failures += a.failures + b.failures;
            let m = skew.measure(&setup, group).await.expect("measure");
            // What the clients were told must be what the table says.
            let acted = i64::from(a.acted) + i64::from(b.acted);
            assert_eq!(
                m,
                skew.expected(acted),
                "group {group}: table disagrees with commits"
            );
            if skew.violated(m) {
                violations += 1;
            }
            if level == Level::Serializable {
                assert!(
                    !skew.violated(m),
                    "{skew:?} write skew at SERIALIZABLE in group {group}"
                );
                // Both read before either wrote: one of them must have been rolled back.
                assert!(
                    a.failures + b.failures >= 1,
                    "group {group}: overlapping pair committed without a serialization failure"
                );
            }
        }
    }
    (violations, failures)
}

async fn write_skew_test(level: Level, skew: Skew) {
    run(|config| async move {
        let (violations, failures) = write_skew(&config, level, skew).await;
        eprintln!("write skew {skew:?} {level:?}: {violations} violations, {failures} failures");
        if level == Level::Serializable {
            assert_eq!(violations, 0);
            assert!(failures >= 1, "no transaction failed with 40001");
        } else {
            assert!(violations >= 1, "{level:?} never showed write skew");
            // Neither side writes a row the other wrote: nothing to conflict on.
            assert_eq!(
                failures, 0,
                "{level:?} failed a transaction without a write conflict"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_skew_repeatable_read_shows_the_anomaly() {
    write_skew_test(Level::RepeatableRead, Skew::Doctors).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn write_skew_serializable_prevents_it() {
    write_skew_test(Level::Serializable, Skew::Doctors).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phantom_skew_repeatable_read_shows_the_anomaly() {
    write_skew_test(Level::RepeatableRead, Skew::Claims).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phantom_skew_serializable_prevents_it() {
    write_skew_test(Level::Serializable, Skew::Claims).await;
}

// ---------------------------------------------------------------------------------------------
// 2b. The read-only anomaly under load (Fekete, O'Neil & O'Neil 2004)
// ---------------------------------------------------------------------------------------------

const RECEIPT_CLIENTS: u64 = 3;
const REPORTERS: u64 = 2;
const RECEIPTS_LOAD: Duration = Duration::from_secs(3);

/// A reporter's committed reports (closed batch, its total) and its serialization failures.
type ReporterLog = (Vec<(i32, i64)>, u64);

/// Receipts go into the current batch; a closer moves the current batch on; reports total the
/// batch that was just closed. Under snapshot isolation alone a report can total a closed batch
/// that a receipt (which read the batch number before the close) later adds to — the
/// read-only transaction sees a state no serial order produces. At SERIALIZABLE, whatever total
/// a committed report showed for a batch must be that batch's final total.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serializable_reports_on_closed_batches_are_final() {
    run(|config| async move {
        let c = connect(&config).await;
        c.batch_execute(
            "CREATE TABLE ctl (k integer PRIMARY KEY, batch integer NOT NULL); \
             INSERT INTO ctl VALUES (1, 1); \
             CREATE TABLE receipts (id integer PRIMARY KEY, batch integer NOT NULL, \
             amount integer NOT NULL); \
             CREATE INDEX receipts_batch ON receipts (batch)",
        )
        .await
        .expect("create tables");
        let retryable = Level::Serializable.retryable();
        let stop = Arc::new(AtomicBool::new(false));
        let begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";

        let receipts: Vec<JoinHandle<Result<u64, String>>> = (0..RECEIPT_CLIENTS)
            .map(|i| {
                let (config, stop, retryable) = (config.clone(), stop.clone(), retryable.clone());
                tokio::spawn(async move {
                    let c = connect(&config).await;
                    let mut rng = Rng::new(600 + i);
                    let mut next_id = (i as i32 + 1) * 1_000_000;
                    let mut committed = 0;
                    while !stop.load(Ordering::Relaxed) {
                        next_id += 1;
                        let pause = Duration::from_millis(rng.below(4));
                        let txn = async {
                            c.batch_execute(begin).await?;
                            let batch: i32 = c
                                .query_one("SELECT batch FROM ctl WHERE k = 1", &[])
                                .await?
                                .get(0);
                            // Widen the window between reading the batch and writing into it.
                            tokio::time::sleep(pause).await;
                            c.execute(
                                "INSERT INTO receipts VALUES ($1, $2, 100)",
                                &[&next_id, &batch],
                            )
                            .await?;
                            c.batch_execute("COMMIT").await
                        };
                        match txn.await {
                            Ok(()) => committed += 1,
                            Err(e) => {
                                rollback(&c).await;
                                retry_reason(&e, &retryable)?;
                            }
                        }
                    }
                    Ok(committed)
                })
            })
            .collect();

        let closer: JoinHandle<Result<u64, String>> = {
            let (config, stop, retryable) = (config.clone(), stop.clone(), retryable.clone());
            tokio::spawn(async move {
                let c = connect(&config).await;
                let mut closed = 0;
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    let txn = async {
                        c.batch_execute(begin).await?;
                        c.execute("UPDATE ctl SET batch = batch + 1 WHERE k = 1", &[])
                            .await?;
                        c.batch_execute("COMMIT").await
                    };
                    match txn.await {
                        Ok(()) => closed += 1,
                        Err(e) => {
                            rollback(&c).await;
                            retry_reason(&e, &retryable)?;
                        }
                    }
                }
                Ok(closed)
            })
        };

        let reporters: Vec<JoinHandle<Result<ReporterLog, String>>> = (0..REPORTERS)
            .map(|i| {
                let (config, stop, retryable) = (config.clone(), stop.clone(), retryable.clone());
                tokio::spawn(async move {
                    let c = connect(&config).await;
                    let mut reports = Vec::new();
                    let mut failures = 0;
                    // One reporter declares itself READ ONLY (SSI's read-only rules), the
                    // other does not.
                    let begin = if i == 0 {
                        format!("{begin} READ ONLY")
                    } else {
                        begin.to_string()
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let txn = async {
                            c.batch_execute(&begin).await?;
                            let batch: i32 = c
                                .query_one("SELECT batch FROM ctl WHERE k = 1", &[])
                                .await?
                                .get(0);
                            let total: i64 = c
                                .query_one(
                                    "SELECT coalesce(sum(amount), 0) FROM receipts \
                                     WHERE batch = $1",
                                    &[&(batch - 1)],
                                )
                                .await?
                                .get(0);
                            c.batch_execute("COMMIT").await?;
                            Ok::<_, tokio_postgres::Error>((batch - 1, total))
                        };
                        match txn.await {
                            Ok(report) => reports.push(report),
                            Err(e) => {
                                rollback(&c).await;
                                retry_reason(&e, &retryable)?;
                                failures += 1;
                            }
                        }
                    }
                    Ok((reports, failures))
                })
            })
            .collect();

        tokio::time::sleep(RECEIPTS_LOAD).await;
        stop.store(true, Ordering::Relaxed);
        let receipts: u64 = join_all(receipts).await.into_iter().sum();
        let closed = join_all(vec![closer]).await[0];
        let reporters = join_all(reporters).await;

        let rows = c
            .query(
                "SELECT batch, sum(amount) FROM receipts GROUP BY batch",
                &[],
            )
            .await
            .expect("final totals");
        let finals: HashMap<i32, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut reports = 0;
        let mut failures = 0;
        for (list, f) in &reporters {
            failures += f;
            for &(batch, total) in list {
                reports += 1;
                let now = finals.get(&batch).copied().unwrap_or(0);
                assert_eq!(
                    total, now,
                    "a committed report saw batch {batch} total {total}, but it ended at {now}"
                );
            }
        }
        eprintln!(
            "receipts: {receipts} receipts, {closed} batches closed, {reports} reports \
             ({failures} reporter failures)"
        );
        assert!(receipts > 0 && closed > 0 && reports > 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Bounded space
// ---------------------------------------------------------------------------------------------

const HOT_ROWS: i32 = 20;
const UPDATERS: u64 = 3;

/// Updates random hot rows until stopped; returns how many updates were acknowledged.
async fn hot_updater(config: Config, seed: u64, stop: Arc<AtomicBool>) -> Result<u64, String> {
    let c = connect(&config).await;
    let update = c
        .prepare("UPDATE hot SET v = v + 1 WHERE id = $1")
        .await
        .map_err(|e| format!("prepare: {e}"))?;
    let mut rng = Rng::new(seed);
    let mut done = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = 1 + rng.below(HOT_ROWS as u64) as i32;
        let n = c
            .execute(&update, &[&id])
            .await
            .map_err(|e| format!("update: {e:?}"))?;
        if n != 1 {
            return Err(format!("update of row {id} touched {n} rows"));
        }
        done += 1;
    }
    Ok(done)
}

/// The long snapshot's view: every row still has its initial value, by a full scan and by the
/// index on `v`.
async fn assert_old_snapshot(c: &Client) {
    let rows = c
        .query("SELECT id, v FROM hot ORDER BY id", &[])
        .await
        .expect("long snapshot scan");
    assert_eq!(rows.len(), HOT_ROWS as usize);
    for r in &rows {
        assert_eq!(
            r.get::<_, i32>(1),
            0,
            "the old snapshot saw a newer value of row {}",
            r.get::<_, i32>(0)
        );
    }
    let zeros: i64 = c
        .query_one("SELECT count(*) FROM hot WHERE v = 0", &[])
        .await
        .expect("long snapshot index read")
        .get(0);
    assert_eq!(zeros, i64::from(HOT_ROWS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bounded_space_under_update_load() {
    let (server, config) = start().await;
    let store = server.database().store().clone();
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        let c = connect(&config).await;
        c.batch_execute(
            "CREATE TABLE hot (id integer PRIMARY KEY, v integer NOT NULL); \
             CREATE INDEX hot_v ON hot (v)",
        )
        .await
        .expect("create hot");
        for id in 1..=HOT_ROWS {
            c.execute("INSERT INTO hot VALUES ($1, 0)", &[&id])
                .await
                .expect("insert hot row");
        }
        let stats = || {
            let store = store.clone();
            async move {
                tokio::task::spawn_blocking(move || store.stats())
                    .await
                    .expect("stats task")
                    .expect("stats")
            }
        };
        let vacuum = connect(&config).await;

        // Phase 1: a REPEATABLE READ snapshot taken before the load must keep reading the old
        // values while updates and vacuum run.
        let long = connect(&config).await;
        long.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .expect("begin long snapshot");
        assert_old_snapshot(&long).await;
        let stop = Arc::new(AtomicBool::new(false));
        let updaters: Vec<_> = (0..UPDATERS)
            .map(|i| tokio::spawn(hot_updater(config.clone(), 100 + i, stop.clone())))
            .collect();
        let phase1_end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < phase1_end {
            vacuum.batch_execute("VACUUM").await.expect("vacuum");
            assert_old_snapshot(&long).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let phase1_updates: u64 = join_all(updaters).await.into_iter().sum();
        vacuum.batch_execute("VACUUM").await.expect("vacuum");
        assert_old_snapshot(&long).await;
        let held = stats().await;
        eprintln!("bounded space: {phase1_updates} updates under the old snapshot; {held:?}");
        assert!(phase1_updates > 0);

        // The snapshot ends: everything but the newest version of each key is garbage.
        long.batch_execute("COMMIT")
            .await
            .expect("end long snapshot");
        vacuum.batch_execute("VACUUM").await.expect("vacuum");
        let after = stats().await;
        eprintln!("bounded space: after the snapshot ended and VACUUM: {after:?}");
        assert_eq!(
            after.row_versions, HOT_ROWS as u64,
            "row versions not reclaimed"
        );
        assert_eq!(
            after.index_versions, HOT_ROWS as u64,
            "index entries not reclaimed"
        );
        assert_eq!(after.tombstones, 0);
        assert!(held.row_versions > after.row_versions);

        // Phase 2: steady load with vacuum running; sample right after each vacuum.
        let stop = Arc::new(AtomicBool::new(false));
        let updaters: Vec<_> = (0..UPDATERS)
            .map(|i| tokio::spawn(hot_updater(config.clone(), 200 + i, stop.clone())))
            .collect();
        let phase2_end = Instant::now() + Duration::from_secs(3);
        let mut worst = 0;
        let mut samples = 0;
        while Instant::now() < phase2_end {
            vacuum.batch_execute("VACUUM").await.expect("vacuum");
            let s = stats().await;
            worst = worst.max(s.row_versions + s.index_versions);
            samples += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let phase2_updates: u64 = join_all(updaters).await.into_iter().sum();
        eprintln!(
            "bounded space: {phase2_updates} updates under vacuum; worst of {samples} samples: \
             {worst} row+index versions"
        );
        // Without vacuum every update leaves a row version, an index entry and an index
        // tombstone behind; with it, what is left is the live rows plus the updates of the
        // moment.
        let bound = 50 * HOT_ROWS as u64;
        assert!(
            phase2_updates > 3 * bound,
            "load too light to tell: {phase2_updates} updates"
        );
        assert!(
            worst <= bound,
            "{worst} versions stored for {HOT_ROWS} rows"
        );

        // Phase 3: the same load with only the background vacuum (a bounded pass every few
        // milliseconds from a rotating cursor), sampled at arbitrary moments.
        let stop = Arc::new(AtomicBool::new(false));
        let updaters: Vec<_> = (0..UPDATERS)
            .map(|i| tokio::spawn(hot_updater(config.clone(), 300 + i, stop.clone())))
            .collect();
        let phase3_end = Instant::now() + Duration::from_secs(2);
        let mut worst = 0;
        while Instant::now() < phase3_end {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let s = stats().await;
            worst = worst.max(s.row_versions + s.index_versions);
        }
        stop.store(true, Ordering::Relaxed);
        let phase3_updates: u64 = join_all(updaters).await.into_iter().sum();
        eprintln!(
            "bounded space: {phase3_updates} updates under background vacuum only; worst \
             {worst} row+index versions"
        );
        assert!(
            phase3_updates > 2 * bound,
            "load too light to tell: {phase3_updates}"
        );
        assert!(
            worst <= bound,
            "{worst} versions stored for {HOT_ROWS} rows"
        );

        vacuum.batch_execute("VACUUM").await.expect("vacuum");
        let end = stats().await;
        assert_eq!(end.row_versions, HOT_ROWS as u64);
        assert_eq!(end.index_versions, HOT_ROWS as u64);
        let total: i64 = c
            .query_one("SELECT sum(v) FROM hot", &[])
            .await
            .expect("sum")
            .get(0);
        assert_eq!(
            total as u64,
            phase1_updates + phase2_updates + phase3_updates
        );
    })
    .await;
    server.shutdown().await;
    assert!(
        outcome.is_ok(),
        "test did not finish within {TEST_TIMEOUT:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Lost update
// ---------------------------------------------------------------------------------------------

const COUNTER_CLIENTS: u64 = 8;
const INCREMENTS_PER_CLIENT: u64 = 150;

/// Increments the counter INCREMENTS_PER_CLIENT times, three ways depending on `style`:
/// a prepared single statement, a simple-query single statement, or an explicit transaction
/// reading with FOR UPDATE and writing the computed value.
async fn incrementer(config: Config, style: u64) -> Result<u64, String> {
    let c = connect(&config).await;
    let mut acknowledged = 0;
    for _ in 0..INCREMENTS_PER_CLIENT {
        let n = match style % 3 {
            0 => c
                .execute("UPDATE counter SET n = n + 1 WHERE id = $1", &[&1i32])
                .await
                .map_err(|e| format!("update: {e:?}"))?,
            1 => {
                let msgs = c
                    .simple_query("UPDATE counter SET n = n + 1 WHERE id = 1")
                    .await
                    .map_err(|e| format!("update: {e:?}"))?;
                msgs.iter()
                    .find_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
                        _ => None,
                    })
                    .unwrap_or(0)
            }
            _ => {
                let txn = async {
                    c.batch_execute("BEGIN").await?;
                    let n: i64 = c
                        .query_one("SELECT n FROM counter WHERE id = 1 FOR UPDATE", &[])
                        .await?
                        .get(0);
                    let u = c
                        .execute("UPDATE counter SET n = $1 WHERE id = 1", &[&(n + 1)])
                        .await?;
                    c.batch_execute("COMMIT").await?;
                    Ok::<_, tokio_postgres::Error>(u)
                };
                txn.await.map_err(|e| format!("locked increment: {e:?}"))?
            }
        };
        if n != 1 {
            return Err(format!("an increment touched {n} rows"));
        }
        acknowledged += 1;
    }
    Ok(acknowledged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_lost_updates_at_read_committed() {
    run(|config| async move {
        let c = connect(&config).await;
        c.batch_execute(
            "CREATE TABLE counter (id integer PRIMARY KEY, n bigint NOT NULL); \
             INSERT INTO counter VALUES (1, 0)",
        )
        .await
        .expect("create counter");
        let tasks: Vec<_> = (0..COUNTER_CLIENTS)
            .map(|i| tokio::spawn(incrementer(config.clone(), i)))
            .collect();
        let acknowledged: u64 = join_all(tasks).await.into_iter().sum();
        let n: i64 = c
            .query_one("SELECT n FROM counter WHERE id = 1", &[])
            .await
            .expect("read counter")
            .get(0);
        assert_eq!(acknowledged, COUNTER_CLIENTS * INCREMENTS_PER_CLIENT);
        assert_eq!(n as u64, acknowledged, "lost updates");
    })
    .await;
}

const SNAPSHOT_COUNTER_CLIENTS: u64 = 6;
const SNAPSHOT_INCREMENTS: u64 = 40;

/// Increments the counter in explicit transactions at `level`, retrying on 40001/40P01 until
/// each increment commits; returns (acknowledged, retries).
async fn snapshot_incrementer(config: Config, level: Level) -> Result<(u64, u64), String> {
    let c = connect(&config).await;
    let (mut acknowledged, mut retries) = (0, 0);
    let begin = format!("BEGIN ISOLATION LEVEL {}", level.sql());
    while acknowledged < SNAPSHOT_INCREMENTS {
        let txn = async {
            c.batch_execute(&begin).await?;
            let n = c
                .execute("UPDATE counter SET n = n + 1 WHERE id = 1", &[])
                .await?;
            c.batch_execute("COMMIT").await?;
            Ok::<_, tokio_postgres::Error>(n)
        };
        match txn.await {
            Ok(1) => acknowledged += 1,
            Ok(n) => return Err(format!("an increment touched {n} rows")),
            Err(e) => {
                rollback(&c).await;
                retry_reason(&e, &level.retryable())?;
                retries += 1;
            }
        }
    }
    Ok((acknowledged, retries))
}

/// At REPEATABLE READ and SERIALIZABLE a concurrent increment is a write conflict (40001),
/// never a lost update: after retries, the counter equals the acknowledged increments.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_lost_updates_at_snapshot_levels() {
    run(|config| async move {
        let c = connect(&config).await;
        c.batch_execute(
            "CREATE TABLE counter (id integer PRIMARY KEY, n bigint NOT NULL); \
             INSERT INTO counter VALUES (1, 0)",
        )
        .await
        .expect("create counter");
        let tasks: Vec<_> = (0..SNAPSHOT_COUNTER_CLIENTS)
            .map(|i| {
                let level = if i % 2 == 0 {
                    Level::RepeatableRead
                } else {
                    Level::Serializable
                };
                tokio::spawn(snapshot_incrementer(config.clone(), level))
            })
            .collect();
        let results = join_all(tasks).await;
        let acknowledged: u64 = results.iter().map(|r| r.0).sum();
        let retries: u64 = results.iter().map(|r| r.1).sum();
        eprintln!("snapshot-level counter: {acknowledged} increments, {retries} retries");
        let n: i64 = c
            .query_one("SELECT n FROM counter WHERE id = 1", &[])
            .await
            .expect("read counter")
            .get(0);
        assert_eq!(n as u64, acknowledged, "lost updates");
        assert!(
            retries > 0,
            "no increment ever conflicted: the test shows nothing"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Uniqueness under contention
// ---------------------------------------------------------------------------------------------

const UNIQUE_CLIENTS: i32 = 6;
const UNIQUE_KEYS: i32 = 60;

/// Inserts `rows(k)` for every k in a client-specific order; returns the keys whose insert
/// this client got acknowledged. The only acceptable failure is 23505.
async fn unique_inserter(
    config: Config,
    client: i32,
    primary_key_clash: bool,
) -> Result<Vec<i32>, String> {
    let c = connect(&config).await;
    let mut keys: Vec<i32> = (1..=UNIQUE_KEYS).collect();
    let mut rng = Rng::new(500 + client as u64);
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut won = Vec::new();
    for k in keys {
        // Either every client inserts the same id (and the same unique u), or each its own
        // id with a shared unique u.
        let (id, u) = if primary_key_clash {
            (k, 2 * k)
        } else {
            (1000 * client + k, -k)
        };
        match c
            .execute("INSERT INTO uniq VALUES ($1, $2, $3)", &[&id, &u, &client])
            .await
        {
            Ok(1) => won.push(k),
            Ok(n) => return Err(format!("insert of {k} reported {n} rows")),
            Err(e) => {
                retry_reason(&e, &[SqlState::UNIQUE_VIOLATION])?;
            }
        }
    }
    Ok(won)
}

/// Clients race to insert the same keys (a primary key clash, then a clash on a secondary
/// unique index only): each key is inserted exactly once, by the client that was told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_of_the_same_keys() {
    run(|config| async move {
        let c = connect(&config).await;
        c.batch_execute(
            "CREATE TABLE uniq (id integer PRIMARY KEY, u integer NOT NULL UNIQUE, \
             who integer NOT NULL)",
        )
        .await
        .expect("create uniq");
        for primary_key_clash in [true, false] {
            let tasks: Vec<_> = (1..=UNIQUE_CLIENTS)
                .map(|client| {
                    tokio::spawn(unique_inserter(config.clone(), client, primary_key_clash))
                })
                .collect();
            let mut winner: HashMap<i32, i32> = HashMap::new();
            for (i, won) in join_all(tasks).await.into_iter().enumerate() {
                for k in won {
                    let client = i as i32 + 1;
                    if let Some(other) = winner.insert(k, client) {
                        panic!("key {k} inserted by clients {other} and {client}");
                    }
                }
            }
            assert_eq!(
                winner.len(),
                UNIQUE_KEYS as usize,
                "some key was never inserted"
            );
            let sql = if primary_key_clash {
                "SELECT id, u, who FROM uniq WHERE u > 0 ORDER BY id"
            } else {
                "SELECT -u, u, who FROM uniq WHERE u < 0 ORDER BY u DESC"
            };
            let rows = c.query(sql, &[]).await.expect("read uniq");
            let got: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(2))).collect();
            let mut want: Vec<(i32, i32)> = winner.into_iter().collect();
            want.sort();
            assert_eq!(got, want, "stored rows differ from acknowledged inserts");
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 5. Disconnect storms
// ---------------------------------------------------------------------------------------------

const HELD_ROWS: i32 = 8;
const STORM_ROUNDS: i32 = 6;
/// How long a waiter may take once the holder is gone (the holder's rollback is immediate;
/// this only turns a hang into a failure).
const UNBLOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// Holders take row locks (and write a row) in open transactions, waiters queue behind them,
/// then the holders' sockets vanish. Every waiter must finish, and nothing the holders wrote
/// may remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_lock_holders_release_their_waiters() {
    run(|config| async move {
        let c = connect(&config).await;
        c.batch_execute("CREATE TABLE held (id integer PRIMARY KEY, v integer NOT NULL)")
            .await
            .expect("create held");
        for id in 1..=HELD_ROWS {
            c.execute("INSERT INTO held VALUES ($1, 0)", &[&id])
                .await
                .expect("insert held row");
        }
        for round in 0..STORM_ROUNDS {
            // Two holders, each locking half the rows, inserting a row, one also FOR SHARE.
            let mut holders = Vec::new();
            for h in 0..2 {
                let conn = Conn::open(&config).await;
                let lo = 1 + h * HELD_ROWS / 2;
                let hi = lo + HELD_ROWS / 2 - 1;
                conn.client
                    .batch_execute(&format!(
                        "BEGIN; UPDATE held SET v = v + 1000 WHERE id BETWEEN {lo} AND {hi}; \
                         INSERT INTO held VALUES ({}, -1)",
                        1000 + round * 10 + h
                    ))
                    .await
                    .expect("holder takes its locks");
                holders.push(conn);
            }
            // One waiter per row: half single-statement updates, half explicit transactions
            // that lock with FOR UPDATE first.
            let waiters: Vec<JoinHandle<Result<(), String>>> = (1..=HELD_ROWS)
                .map(|id| {
                    let config = config.clone();
                    tokio::spawn(async move {
                        let c = connect(&config).await;
                        if id % 2 == 0 {
                            let n = c
                                .execute("UPDATE held SET v = v + 1 WHERE id = $1", &[&id])
                                .await
                                .map_err(|e| format!("waiter update of {id}: {e:?}"))?;
                            if n != 1 {
                                return Err(format!("waiter update of {id} touched {n} rows"));
                            }
                        } else {
                            let txn = async {
                                c.batch_execute("BEGIN").await?;
                                let v: i32 = c
                                    .query_one(
                                        "SELECT v FROM held WHERE id = $1 FOR UPDATE",
                                        &[&id],
                                    )
                                    .await?
                                    .get(0);
                                c.execute("UPDATE held SET v = $1 WHERE id = $2", &[&(v + 1), &id])
                                    .await?;
                                c.batch_execute("COMMIT").await
                            };
                            txn.await
                                .map_err(|e| format!("waiter transaction on {id}: {e:?}"))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            // Let the waiters queue up. None may get through while the holders live.
            tokio::time::sleep(Duration::from_millis(300)).await;
            for (i, w) in waiters.iter().enumerate() {
                assert!(
                    !w.is_finished(),
                    "round {round}: waiter {} got past a held row lock",
                    i + 1
                );
            }
            // Even rounds: the socket just vanishes; odd rounds: the client ends politely
            // (Terminate) with its transaction still open.
            for conn in holders {
                if round % 2 == 0 {
                    conn.kill();
                } else {
                    drop(conn.client);
                    let _ = conn.driver.await;
                }
            }
            let joined = tokio::time::timeout(UNBLOCK_TIMEOUT, join_all(waiters)).await;
            assert!(
                joined.is_ok(),
                "round {round}: waiters still blocked after the holders disconnected"
            );
            let rows = c
                .query("SELECT id, v FROM held ORDER BY id", &[])
                .await
                .expect("read held");
            let got: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let want: Vec<(i32, i32)> = (1..=HELD_ROWS).map(|id| (id, round + 1)).collect();
            assert_eq!(
                got, want,
                "round {round}: partial writes or lost waiter updates"
            );
        }
    })
    .await;
}

/// Many short-lived clients write in open transactions and vanish, with deadlocks among them,
/// while other clients commit increments on the same rows: only the committed increments
/// remain, and no committer hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disconnect_storm_leaves_only_committed_writes() {
    run(|config| async move {
        let c = connect(&config).await;
        c.batch_execute(
            "CREATE TABLE storm (id integer PRIMARY KEY, v integer NOT NULL); \
             INSERT INTO storm VALUES (1, 0), (2, 0), (3, 0), (4, 0)",
        )
        .await
        .expect("create storm");
        let stop = Arc::new(AtomicBool::new(false));
        let vanished = Arc::new(AtomicU64::new(0));
        let droppers: Vec<JoinHandle<Result<(), String>>> = (0..3u64)
            .map(|i| {
                let (config, stop, vanished) = (config.clone(), stop.clone(), vanished.clone());
                tokio::spawn(async move {
                    let mut rng = Rng::new(300 + i);
                    while !stop.load(Ordering::Relaxed) {
                        let conn = Conn::open(&config).await;
                        let a = 1 + rng.below(4) as i32;
                        let b = 1 + (a as u64 + rng.below(3)) as i32 % 4;
                        let write = async {
                            conn.client.batch_execute("BEGIN").await?;
                            conn.client
                                .execute("UPDATE storm SET v = v + 100 WHERE id = $1", &[&a])
                                .await?;
                            conn.client
                                .execute("UPDATE storm SET v = v + 100 WHERE id = $1", &[&b])
                                .await?;
                            conn.client
                                .execute("INSERT INTO storm VALUES ($1, 100)", &[&(1000 + a)])
                                .await
                        };
                        // The vanishing client may be cancelled while waiting (it is gone
                        // anyway), may deadlock with another one, or may complete its writes.
                        let waited =
                            tokio::time::timeout(Duration::from_millis(rng.below(200)), write)
                                .await;
                        if let Ok(Err(e)) = waited {
                            if let Some(db) = e.as_db_error() {
                                let code = db.code();
                                if *code != SqlState::T_R_DEADLOCK_DETECTED
                                    && *code != SqlState::UNIQUE_VIOLATION
                                {
                                    return Err(format!("vanishing client: {e:?}"));
                                }
                            }
                        }
                        if rng.below(2) == 0 {
                            conn.kill();
                        } else {
                            drop(conn.client);
                            let _ = conn.driver.await;
                        }
                        vanished.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        let committers: Vec<JoinHandle<Result<u64, String>>> = (0..2u64)
            .map(|i| {
                let (config, stop) = (config.clone(), stop.clone());
                tokio::spawn(async move {
                    let c = connect(&config).await;
                    let mut rng = Rng::new(400 + i);
                    let mut committed = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let id = 1 + rng.below(4) as i32;
                        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
                        let update = c.execute("UPDATE storm SET v = v + 1 WHERE id = $1", &params);
                        let n = match tokio::time::timeout(UNBLOCK_TIMEOUT, update)
                            .await
                            .map_err(|_| format!("committer blocked on row {id}"))?
                        {
                            Ok(n) => n,
                            // Even a one-row autocommit UPDATE can be a deadlock victim, as in
                            // PostgreSQL: while it waits for the row, later requesters queue
                            // behind it, so it sits in their waits-for cycle.
                            Err(e) => {
                                retry_reason(&e, &[SqlState::T_R_DEADLOCK_DETECTED])?;
                                continue;
                            }
                        };
                        if n != 1 {
                            return Err(format!("committer update touched {n} rows"));
                        }
                        committed += 1;
                    }
                    Ok(committed)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(4)).await;
        stop.store(true, Ordering::Relaxed);
        join_all(droppers).await;
        let committed: u64 = join_all(committers).await.into_iter().sum();
        let vanished = vanished.load(Ordering::Relaxed);
        eprintln!(
            "disconnect storm: {vanished} clients vanished, {committed} increments committed"
        );
        assert!(vanished > 0 && committed > 0);

        // Sessions of vanished clients may still be rolling back: a committed read must show
        // none of their writes regardless (nothing uncommitted is ever visible), and once they
        // are gone every row lock is free again.
        let update_all = c.execute("UPDATE storm SET v = v WHERE id BETWEEN 1 AND 4", &[]);
        let n = tokio::time::timeout(UNBLOCK_TIMEOUT, update_all)
            .await
            .expect("row locks of vanished clients were never released")
            .expect("update all");
        assert_eq!(n, 4);
        let rows = c
            .query("SELECT id, v FROM storm ORDER BY id", &[])
            .await
            .expect("read storm");
        let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(ids, vec![1, 2, 3, 4], "a vanished client's insert remained");
        let total: i64 = rows.iter().map(|r| i64::from(r.get::<_, i32>(1))).sum();
        assert_eq!(
            total as u64, committed,
            "a vanished client's update remained"
        );
    })
    .await;
}
