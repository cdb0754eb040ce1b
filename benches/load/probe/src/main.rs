//! `probe`: the load benchmark's helper CLI.
//!
//! - `probe token --url URL --email E --password P` logs in and prints the access token.
//! - `probe revocation-delay --a URL --b URL --email E --password P --samples N` measures how
//!   long a logout on instance A takes to be seen on instance B: per sample, log in on A,
//!   check `{ me { id } }` on B, log out on A, then poll B about every millisecond until it
//!   answers `TOKEN_REVOKED`; the delay runs from the logout response's arrival to that
//!   answer. A sample gives up after 5 s. Prints p50, p99 and max in milliseconds.
//!
//! Only ever pointed at 127.0.0.1 by `run.sh`.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

/// How long one sample may wait for B to see the revocation.
const GIVE_UP: Duration = Duration::from_secs(5);
/// Pause between two polls of B.
const POLL_EVERY: Duration = Duration::from_millis(1);
/// Longest any single HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(name = "probe", about = "Warden load benchmark helper")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in and print the access token.
    Token {
        /// GraphQL endpoint, e.g. http://127.0.0.1:8000/graphql.
        #[arg(long)]
        url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
    },
    /// Measure the delay between a logout on A and `TOKEN_REVOKED` on B.
    RevocationDelay {
        /// Instance A's GraphQL endpoint (login, logout).
        #[arg(long)]
        a: String,
        /// Instance B's GraphQL endpoint (polled).
        #[arg(long)]
        b: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Number of samples.
        #[arg(long, default_value_t = 20)]
        samples: usize,
    },
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Client {
    http: reqwest::Client,
}

impl Client {
    fn new() -> Result<Self, BoxError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .pool_max_idle_per_host(4)
            .build()?;
        Ok(Self { http })
    }

    async fn post(&self, url: &str, query: &str, token: Option<&str>) -> Result<Value, BoxError> {
        let mut request = self.http.post(url).json(&json!({ "query": query }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() && body.get("errors").is_none() {
            return Err(format!("{url}: HTTP {status}: {body}").into());
        }
        Ok(body)
    }

    async fn login(&self, url: &str, email: &str, password: &str) -> Result<String, BoxError> {
        let query = format!(
            "mutation {{ login(email: {}, password: {}) {{ accessToken }} }}",
            Value::from(email),
            Value::from(password)
        );
        let body = self.post(url, &query, None).await?;
        body.pointer("/data/login/accessToken")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("login failed: {body}").into())
    }
}

fn error_code(body: &Value) -> Option<&str> {
    body.pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
}

/// One revocation sample: the delay, or why it failed.
async fn sample(
    client: &Client,
    a: &str,
    b: &str,
    email: &str,
    password: &str,
) -> Result<Duration, BoxError> {
    let token = client.login(a, email, password).await?;
    let me = client.post(b, "{ me { id } }", Some(&token)).await?;
    if me.pointer("/data/me/id").is_none() {
        return Err(format!("fresh token refused on B: {me}").into());
    }
    let out = client.post(a, "mutation { logout }", Some(&token)).await?;
    let logged_out = Instant::now();
    if out.pointer("/data/logout") != Some(&Value::Bool(true)) {
        return Err(format!("logout failed on A: {out}").into());
    }
    loop {
        let answer = client.post(b, "{ me { id } }", Some(&token)).await?;
        if error_code(&answer) == Some("TOKEN_REVOKED") {
            return Ok(logged_out.elapsed());
        }
        if logged_out.elapsed() >= GIVE_UP {
            return Err(format!(
                "B still accepted the token {} ms after logout (last answer: {answer})",
                logged_out.elapsed().as_millis()
            )
            .into());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The `q`-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

async fn revocation_delay(
    a: &str,
    b: &str,
    email: &str,
    password: &str,
    samples: usize,
) -> Result<bool, BoxError> {
    let client = Client::new()?;
    let mut delays = Vec::with_capacity(samples);
    let mut failures = 0usize;
    for i in 1..=samples {
        match sample(&client, a, b, email, password).await {
            Ok(delay) => {
                let ms = delay.as_secs_f64() * 1000.0;
                eprintln!("sample {i}/{samples}: {ms:.2} ms");
                delays.push(ms);
            }
            Err(e) => {
                failures += 1;
                eprintln!("sample {i}/{samples}: FAILED: {e}");
            }
        }
    }
    delays.sort_by(f64::total_cmp);
    let p50 = quantile(&delays, 0.50);
    let p99 = quantile(&delays, 0.99);
    let max = delays.last().copied().unwrap_or(f64::NAN);
    println!(
        "revocation-delay samples={samples} ok={} failures={failures} p50_ms={p50:.2} p99_ms={p99:.2} max_ms={max:.2}",
        delays.len()
    );
    Ok(failures == 0)
}

async fn run(command: Command) -> Result<ExitCode, BoxError> {
    match command {
        Command::Token {
            url,
            email,
            password,
        } => {
            let token = Client::new()?.login(&url, &email, &password).await?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::RevocationDelay {
            a,
            b,
            email,
            password,
            samples,
        } => {
            let all_ok = revocation_delay(&a, &b, &email, &password, samples).await?;
            Ok(if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("probe: {e}");
            ExitCode::FAILURE
        }
    }
}
