//! The CLI as the docs use it: `pol-worker train` then `pol-worker verify`, and the exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

const TASK: &str = r#"
[task]
id = 5
model = "mlp:64-16-10"

[data]
source = "digits"
num_shards = 3
partition = "iid"
validation = 0.2

[hyperparameters]
learning_rate = 0.1
momentum = 0.5
batch_size = 16
local_steps = 20
checkpoint_interval = 5

[verification]
segments_per_check = 2
comparison = "exact"
"#;

fn worker(args: &[&str]) -> (i32, String) {
	let out = Command::new(env!("CARGO_BIN_EXE_pol-worker"))
		.args(args)
		.output()
		.expect("pol-worker runs");
	let text =
		String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
	(out.status.code().unwrap_or(-1), text)
}

fn s(p: &Path) -> &str {
	p.to_str().unwrap()
}

#[test]
fn train_then_verify_and_exit_codes() {
	let dir: PathBuf = std::env::temp_dir().join(format!("pol-worker-cli-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir).unwrap();
	let config = dir.join("task.toml");
	std::fs::write(&config, TASK).unwrap();
	let bundle = dir.join("bundle");

	let (code, text) = worker(&[
		"train",
		"--config",
		s(&config),
		"--miner",
		"alice",
		"--out",
		s(&bundle),
		"--no-progress",
	]);
	assert_eq!(code, 0, "{text}");
	assert!(text.contains("checkpoint root:"), "{text}");

	let verify = |extra: &[&str]| {
		let mut args = vec![
			"verify",
			"--config",
			s(&config),
			"--bundle",
			s(&bundle),
			"--no-progress",
		];
		args.extend_from_slice(extra);
		worker(&args)
	};
	let (code, text) = verify(&["--miner", "alice"]);
	assert_eq!(code, 0, "{text}");
	assert!(text.contains("verdict:     Pass"), "{text}");
	assert!(text.contains("score:"), "{text}");

	// From `pol-worker serve`: the manifest, then only the checkpoints the challenge needs.
	{
		use std::io::BufRead;
		let mut server = Command::new(env!("CARGO_BIN_EXE_pol-worker"))
			.args([
				"serve",
				"--store",
				s(&dir.join("store")),
				"--addr",
				"127.0.0.1:0",
				"--import",
				s(&bundle),
			])
			.stdout(std::process::Stdio::piped())
			.stderr(std::process::Stdio::null())
			.spawn()
			.expect("pol-worker serve runs");
		let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
		let (mut manifest, mut url) = (None, None);
		while url.is_none() {
			let line = lines.next().expect("serve prints its address").unwrap();
			if let Some(i) = line.find("(manifest ") {
				manifest = Some(line[i + 10..].trim_end_matches(')').to_string());
			}
			if let Some(i) = line.find(" on http://") {
				url = Some(line[i + 4..].to_string());
			}
		}
		let (manifest, url) = (manifest.unwrap(), url.unwrap());
		let fetched = dir.join("fetched");
		let (code, text) = worker(&[
			"verify",
			"--config",
			s(&config),
			"--bundle",
			s(&fetched),
			"--from",
			&url,
			"--manifest",
			&manifest,
			"--no-progress",
		]);
		let _ = server.kill();
		let _ = server.wait();
		assert_eq!(code, 0, "{text}");
		assert!(text.contains("verdict:     Pass"), "{text}");
		assert!(text.contains("fetched:     checkpoints"), "{text}");
		// The manifest and the checkpoints the output lists, nothing else.
		let listed = text
			.split("fetched:     checkpoints [")
			.nth(1)
			.and_then(|t| t.split(']').next())
			.unwrap()
			.split(',')
			.count();
		let files = std::fs::read_dir(&fetched).unwrap().count();
		assert_eq!(files, 1 + listed, "{text}");
	}

	// A task whose profile names two threads: recorded in the manifest, replayed alike.
	let config2 = dir.join("task2.toml");
	std::fs::write(
		&config2,
		format!("{TASK}[verification.profile]\nthreads = 2\n"),
	)
	.unwrap();
	let bundle2 = dir.join("bundle2");
	let (code, text) = worker(&[
		"train",
		"--config",
		s(&config2),
		"--miner",
		"carol",
		"--out",
		s(&bundle2),
		"--no-progress",
	]);
	assert_eq!(code, 0, "{text}");
	let manifest = std::fs::read_to_string(bundle2.join("manifest.json")).unwrap();
	assert!(manifest.contains("\"threads\": 2"), "{manifest}");
	let (code, text) = worker(&[
		"verify",
		"--config",
		s(&config2),
		"--bundle",
		s(&bundle2),
		"--all-segments",
		"--no-progress",
	]);
	assert_eq!(code, 0, "{text}");

	// The same run replayed by processes pinned to other kernels or threads than the task's
	// profile: each abstains, none fails the miner.
	for profile in ["cpu/default/1", "cpu/avx2/2"] {
		let (code, text) = verify(&["--miner", "alice", "--all-segments", "--profile", profile]);
		assert_eq!(code, 1, "{text}");
		assert!(text.contains("verdict:     Abstain"), "{profile}: {text}");
		assert!(text.contains(&format!("runs profile {profile}")), "{text}");
	}
	// A miner does not train under another profile than the task's.
	let (code, text) = worker(&[
		"train",
		"--config",
		s(&config),
		"--out",
		s(&dir.join("bundle3")),
		"--profile",
		"cpu/avx2/2",
		"--no-progress",
	]);
	assert_eq!(code, 2, "{text}");
	assert!(text.contains("--profile cpu/avx2/1"), "{text}");

	// Another miner's commitment: not its bundle, the miner's fault, reported on segment n.
	let (code, text) = verify(&["--miner", "bob"]);
	assert_eq!(code, 1, "{text}");
	assert!(text.contains("Fail { segment: 4 }"), "{text}");

	// A corrupted checkpoint is not the run's: not served, on its segment (never a `Fail`,
	// which a validator could be slashed for when the bytes were corrupted on the way).
	let ckpt = bundle.join("ckpt-00002.safetensors");
	let mut bytes = std::fs::read(&ckpt).unwrap();
	let last = bytes.len() - 1;
	bytes[last] ^= 1;
	std::fs::write(&ckpt, bytes).unwrap();
	let (code, text) = verify(&["--miner", "alice", "--all-segments"]);
	assert_eq!(code, 1, "{text}");
	assert!(text.contains("NotServed { segment: 2 }"), "{text}");

	// The worker's own trouble is exit code 2 with an error, not a panic.
	let (code, text) = worker(&[
		"verify",
		"--config",
		"/nonexistent.toml",
		"--bundle",
		s(&bundle),
	]);
	assert_eq!(code, 2, "{text}");
	assert!(
		text.contains("error:") && !text.contains("panicked"),
		"{text}"
	);
	let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn doctor_says_which_profiles_this_host_reproduces() {
	let (code, text) = worker(&["doctor", "--determinism", "--json"]);
	let checks: serde_json::Value = serde_json::from_str(
		text.lines()
			.skip_while(|l| !l.starts_with('['))
			.collect::<Vec<_>>()
			.join("\n")
			.as_str(),
	)
	.unwrap_or_else(|e| panic!("{e}: {text}"));
	let checks = checks.as_array().unwrap();
	assert_eq!(checks.len(), 5, "{text}");
	// The reference machine reproduces the default profile's golden vectors: exit code 0.
	assert_eq!(code, 0, "{text}");
	let default = checks
		.iter()
		.find(|c| c["profile"] == "cpu/avx2/1")
		.unwrap();
	assert!(default["unsupported"].is_null(), "{text}");
	for run in default["runs"].as_array().unwrap() {
		assert_eq!(run["reproduces"], true, "{text}");
	}
	// Every other profile either does not pin here (saying why) or runs repeatably.
	for c in checks {
		match c["unsupported"].as_str() {
			Some(why) => assert!(!why.is_empty()),
			None => assert!(
				c["runs"]
					.as_array()
					.unwrap()
					.iter()
					.all(|r| r["repeatable"] == true),
				"{text}"
			),
		}
	}
}
