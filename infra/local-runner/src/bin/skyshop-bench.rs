//! `skyshop-bench`: cold-start benchmark under the Lambda Runtime API emulator.
//!
//! ```text
//! skyshop-bench init --function <bootstrap> --baseline <bootstrap> [--runs 30]
//! ```
//!
//! For each run it starts the process, measures the time until it first asks the Runtime API
//! for an event (init: process start → ready for the first event), then sends one event and
//! measures the first response (which includes the function's lazy set-up). Function and
//! baseline alternate so both see the same machine state. The function's environment is the
//! template's, resolved against a freshly provisioned local cloud (stand-ins must be running).

use std::path::PathBuf;
use std::time::Duration;

use local_runner::cloud::{LocalCloud, Options};
use local_runner::rie::Rie;
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    if args.first().map(String::as_str) == Some("argon2") {
        return argon2_cost().await;
    }
    if args.first().map(String::as_str) != Some("init") {
        return Err(
            "usage: skyshop-bench init --function <bootstrap> --baseline <bootstrap> [--runs N] [--logical-id AccountsFunction]".into()
        );
    }
    let function = PathBuf::from(flag("--function").ok_or("--function is required")?);
    let baseline = PathBuf::from(flag("--baseline").ok_or("--baseline is required")?);
    let runs: usize = flag("--runs").and_then(|r| r.parse().ok()).unwrap_or(30);
    let logical_id = flag("--logical-id").unwrap_or_else(|| "AccountsFunction".into());

    let cloud = LocalCloud::start(Options {
        port: 3000,
        suffix: "-bench".into(),
        admin_password: Some("Bench-Admin-Pass-1".into()),
        reset_passwords: true,
    })
    .await?;
    let env: Vec<(String, String)> = cloud.environments.get(&logical_id).ok_or("unknown function")?.clone().into_iter().collect();
    let event = local_runner::events::all(&cloud.template)?
        .into_iter()
        .find(|(p, _)| p == "api/RouteAccountsJwks.json")
        .map(|(_, e)| e)
        .ok_or("no jwks sample event")?;

    let mut samples: Vec<(&str, f64, f64)> = Vec::new();
    for _ in 0..runs {
        for (name, binary, env, event) in
            [("function", &function, env.clone(), event.clone()), ("baseline", &baseline, Vec::new(), json!({}))]
        {
            let mut rie = Rie::spawn(binary, &env).await?;
            let init = rie.wait_ready(Duration::from_secs(30)).await?;
            let started = std::time::Instant::now();
            let response = rie.invoke(event, Duration::from_secs(30)).await?;
            let first = started.elapsed();
            if name == "function" {
                let status = response.as_ref().ok().and_then(|r| r["statusCode"].as_u64()).unwrap_or(0);
                if status != 200 {
                    return Err(format!("the function answered {response:?}").into());
                }
            }
            rie.stop().await;
            samples.push((name, init.as_secs_f64() * 1000.0, first.as_secs_f64() * 1000.0));
        }
    }
    let stats = |name: &str, pick: fn(&(&str, f64, f64)) -> f64| -> Value {
        let mut v: Vec<f64> = samples.iter().filter(|s| s.0 == name).map(pick).collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
        json!({"min": v[0], "p50": at(0.5), "p90": at(0.9), "max": v[v.len() - 1]})
    };
    let report = json!({
        "runs": runs,
        "function": function.display().to_string(),
        "baseline": baseline.display().to_string(),
        "init_ms": {"function": stats("function", |s| s.1), "baseline": stats("baseline", |s| s.1)},
        "first_invoke_ms": {"function": stats("function", |s| s.2), "baseline": stats("baseline", |s| s.2)},
    });
    let ratio = report["init_ms"]["function"]["p50"].as_f64().unwrap_or(0.0) / report["init_ms"]["baseline"]["p50"].as_f64().unwrap_or(1.0);
    println!("{}", serde_json::to_string_pretty(&json!({"report": report, "init_p50_ratio": (ratio * 100.0).round() / 100.0}))?);
    Ok(())
}

/// CPU cost of one argon2id hash at the parameters accounts uses (one core, blocking pool).
async fn argon2_cost() -> Result<(), BoxError> {
    let runs = 20;
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = std::time::Instant::now();
        accounts::password::hash("Correct-Horse-9".into()).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let report = json!({"argon2id": "m=19456 KiB, t=2, p=1", "runs": runs, "hash_ms": {"min": times[0], "p50": times[runs / 2], "max": times[runs - 1]}});
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
