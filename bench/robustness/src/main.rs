//! Robustness run: feeds random and mutated inputs to the action parser, the signature decoder
//! (and verifier), the ACL parser, the target parser and the result budget, and counts panics.
//! Any panic fails the run, as does a re-encoded signature that means something else than its
//! original or a result the budget let through oversized.
//!
//! ```text
//! cargo run --release -p mig-robustness -- [ITERATIONS_PER_TARGET] [SEED]
//! ```
//!
//! Inputs start from MIG's vectors and mutate them: bit flips, byte insertions and deletions,
//! truncations, splices of JSON fragments, and JSON-aware swaps of values for other types.

#![forbid(unsafe_code)]

use mig_core::{Acl, Action, Command, GoTime};
use mig_pgp::{verify_action, Keyring, Window};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "-1",
    "1e309",
    "0.5",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "{\"module\":\"file\"}",
    "\"syntaxversion\":2",
    "\"is_compressed\":true",
    "=",
    "\"pgpsignatures\":[\"\"]",
    "\"minimumweight\":-1",
    "\"fingerprint\":\"",
    "1.427392971126604e+18",
    "\"parameters\":\"H4sIAAAAAAAA\"",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iterations: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20261123);
    // Panics are counted, not printed one by one.
    std::panic::set_hook(Box::new(|_| {}));

    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/mig-v2");
    let read = |n: &str| std::fs::read(vectors.join(n)).expect("test vectors");
    let actions = vec![
        read("valid-signed-action1.json"),
        read("signed-multiop-action1.json"),
        read("invalid-signed-action1.json"),
    ];
    let keyring = Keyring::load(&vectors.join("key-valid-signer1.asc")).expect("keyring");
    // With and without the CRC-24 suffix: without it, mutations reach the packet parser
    // instead of stopping at the checksum.
    let signatures: Vec<Vec<u8>> = actions
        .iter()
        .flat_map(|a| {
            let v: Value = serde_json::from_slice(a).unwrap();
            let sig = v["pgpsignatures"][0].as_str().unwrap().to_string();
            let body = sig[..sig.len() - 5].to_string();
            [sig.into_bytes(), body.into_bytes()]
        })
        .collect();
    let acls = vec![
        br#"{"default":{"minimumweight":2,"investigators":{"Bob":{"fingerprint":"397FD1F5E3DD4020BEF0E37E0F382D21C84C143A","weight":2}}},"file":{"minimumweight":1,"investigators":{}}}"#.to_vec(),
        br#"[{"pkg":{"MinimumWeight":1,"Investigators":{"a":{"Fingerprint":"397fd1f5e3dd4020bef0e37e0f382d21c84c143a","Weight":1}}}}]"#.to_vec(),
    ];
    let acl = Acl::from_json(&acls[0]).unwrap();
    let then = GoTime::parse("2017-10-25T15:52:00Z").unwrap();

    let mut rng = StdRng::seed_from_u64(seed);
    let mut failed = false;

    failed |= run(
        "action parser + verification",
        iterations,
        &mut rng,
        &actions,
        |input| {
            if let Ok(a) = Action::from_json(input) {
                let _ = a.signing_text();
                let _ = a.validate(then);
                let _ = verify_action(&a, &keyring, Some(&acl), then, Window::Ignore);
                let mut a = a;
                let _ = a.decompress_operations();
            }
            let _ = Command::from_json(input);
        },
    );
    failed |= run(
        "signature decoder + verifier",
        iterations,
        &mut rng,
        &signatures,
        |input| {
            let text = String::from_utf8_lossy(input);
            let _ = mig_pgp::armor::decode_signature(&text);
            let _ = keyring.verify(b"name=x;", &text, then.unix());
        },
    );
    failed |= reencoded_signatures(&actions, &keyring, then, iterations, &mut rng);
    let targets: Vec<Vec<u8>> = [
        "status='online' AND os='linux'".to_string(),
        "name IN ('a','b') OR tags->>'env' LIKE 'prod%'".to_string(),
        "id IN (SELECT agentid FROM commands WHERE actionid=1 AND (status='success' AND foundanything=true))".to_string(),
        vec!["id=1"; 999].join(" OR "),
        format!("{}TRUE{}", "(".repeat(2000), ")".repeat(2000)),
        format!("name IN ({})", (0..2000).map(|i| format!("'{i}'")).collect::<Vec<_>>().join(",")),
        format!("{}TRUE", "NOT ".repeat(500)),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    failed |= run("target parser", iterations, &mut rng, &targets, |input| {
        let _ = mig_core::target::parse(&String::from_utf8_lossy(input));
    });
    failed |= oversized_results(iterations / 10_000, &mut rng);
    failed |= run(
        "ACL parser + evaluation",
        iterations,
        &mut rng,
        &acls,
        |input| {
            if let Ok(acl) = Acl::from_json(input) {
                let _ =
                    acl.check_module("file", &["397FD1F5E3DD4020BEF0E37E0F382D21C84C143A".into()]);
            }
        },
    );
    if failed {
        std::process::exit(1);
    }
}

/// Every re-encoding an attacker can make of the vectors' signatures must verify as the same
/// signature (the agent's replay memory keys on that), and mutations of the re-encodings must
/// not panic the decoder.
fn reencoded_signatures(
    actions: &[Vec<u8>],
    keyring: &Keyring,
    then: GoTime,
    iterations: usize,
    rng: &mut StdRng,
) -> bool {
    let mut mismatches = 0;
    let mut seeds = Vec::new();
    for bytes in actions {
        let Ok(a) = Action::from_json(bytes) else {
            continue;
        };
        let text = a.signing_text();
        for sig in &a.pgpsignatures {
            let Ok(original) = keyring.verify(text.as_bytes(), sig, then.unix()) else {
                continue;
            };
            for (how, encoded) in mig_e2e::attack::signature_reencodings(sig) {
                match keyring.verify(text.as_bytes(), &encoded, then.unix()) {
                    Ok(v) if v.meaning == original.meaning => {}
                    other => {
                        mismatches += 1;
                        println!("  re-encoded {how}: {:?}", other.map(|v| v.meaning));
                    }
                }
                seeds.push(encoded.into_bytes());
            }
        }
    }
    println!(
        "signature re-encodings: {} forms, {mismatches} read as another signature",
        seeds.len()
    );
    let panicked = run(
        "re-encoded signatures, mutated",
        iterations,
        rng,
        &seeds,
        |input| {
            let _ = keyring.verify(b"name=x;", &String::from_utf8_lossy(input), then.unix());
        },
    );
    panicked || mismatches > 0 || seeds.is_empty()
}

/// Results of random shape and size, cut to random budgets: never a panic, never over.
fn oversized_results(iterations: usize, rng: &mut StdRng) -> bool {
    let start = Instant::now();
    let mut over = 0usize;
    let mut panics = 0usize;
    for _ in 0..iterations.max(10) {
        let rows = rng.gen_range(0..5_000);
        let width = rng.gen_range(1..400);
        let elements = match rng.gen_range(0..3) {
            0 => {
                serde_json::json!({"rows": (0..rows).map(|i| serde_json::json!([i, "x".repeat(width)])).collect::<Vec<_>>()})
            }
            1 => {
                serde_json::json!({"s1": [{"files": (0..rows).map(|i| serde_json::json!({"file": format!("/{i}"), "pad": "y".repeat(width)})).collect::<Vec<_>>()}]})
            }
            _ => serde_json::json!({"blob": "z".repeat(rows * width)}),
        };
        let mut result = mig_core::ModuleResult {
            foundanything: true,
            success: true,
            elements,
            statistics: Value::Null,
            errors: (0..rng.gen_range(0..50))
                .map(|_| "e".repeat(width))
                .collect(),
        };
        let budget = rng.gen_range(1_000..2_000_000);
        match catch_unwind(AssertUnwindSafe(|| {
            mig_modules::fit_result(&mut result, budget);
            serde_json::to_vec(&result).map_or(usize::MAX, |v| v.len())
        })) {
            Ok(size) if size > budget => over += 1,
            Ok(_) => {}
            Err(_) => panics += 1,
        }
    }
    println!(
        "result budget: {} results, {panics} panics, {over} over budget, {:.1}s",
        iterations.max(10),
        start.elapsed().as_secs_f64()
    );
    panics + over > 0
}

/// Feeds `iterations` inputs derived from `seeds` to `target`; returns true on any panic.
fn run(
    name: &str,
    iterations: usize,
    rng: &mut StdRng,
    seeds: &[Vec<u8>],
    target: impl Fn(&[u8]),
) -> bool {
    let start = Instant::now();
    let mut panics = 0usize;
    let mut first_panic: Option<Vec<u8>> = None;
    for i in 0..iterations {
        let seed = &seeds[i % seeds.len()];
        let input = mutate(seed, rng);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            panics += 1;
            first_panic.get_or_insert(input);
        }
    }
    println!(
        "{name}: {iterations} inputs, {panics} panics, {:.1}s",
        start.elapsed().as_secs_f64()
    );
    if let Some(input) = first_panic {
        println!(
            "  first panicking input: {:?}",
            String::from_utf8_lossy(&input)
        );
    }
    panics > 0
}

fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut data = seed.to_vec();
    match rng.gen_range(0..10) {
        // Pure noise, sometimes.
        0 => return (0..rng.gen_range(0..512)).map(|_| rng.gen()).collect(),
        // JSON-aware: replace a random value with another type.
        1 | 2 => {
            if let Ok(mut v) = serde_json::from_slice::<Value>(&data) {
                replace_random_value(&mut v, rng);
                data = serde_json::to_vec(&v).unwrap_or(data);
            }
        }
        _ => {}
    }
    for _ in 0..rng.gen_range(1..6) {
        if data.is_empty() {
            data.push(rng.gen());
            continue;
        }
        let pos = rng.gen_range(0..data.len());
        match rng.gen_range(0..6) {
            0 => data[pos] ^= 1 << rng.gen_range(0..8),
            1 => data[pos] = rng.gen(),
            2 => {
                data.remove(pos);
            }
            3 => data.insert(pos, rng.gen()),
            4 => data.truncate(pos),
            _ => {
                let frag = FRAGMENTS[rng.gen_range(0..FRAGMENTS.len())].as_bytes();
                data.splice(pos..pos, frag.iter().copied());
            }
        }
    }
    data
}

fn replace_random_value(v: &mut Value, rng: &mut StdRng) {
    let replacement = || -> Value {
        match rand::random::<u8>() % 7 {
            0 => Value::Null,
            1 => Value::Bool(true),
            2 => serde_json::json!(-1),
            3 => serde_json::json!(1e300),
            4 => Value::String("<>&\u{2028}".into()),
            5 => serde_json::json!([]),
            _ => serde_json::json!({}),
        }
    };
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.gen_range(0..keys.len())];
            if rng.gen_bool(0.5) {
                map.insert(key.clone(), replacement());
            } else if let Some(child) = map.get_mut(key) {
                replace_random_value(child, rng);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.gen_range(0..items.len());
            if rng.gen_bool(0.5) {
                items[i] = replacement();
            } else {
                replace_random_value(&mut items[i], rng);
            }
        }
        other => *other = replacement(),
    }
}
