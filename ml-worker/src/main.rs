//! `pol-worker`: the command line over the `pol_worker` library.

use anyhow::Result;
use clap::{Parser, Subcommand};
use pol_worker::doctor;

/// polchain's off-chain worker: trains, proves and verifies learning for polchain tasks.
#[derive(Parser, Debug)]
#[command(name = "pol-worker", version, about)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
	/// Check libtorch, threads and CUDA, and train a tiny model for a few steps.
	Doctor {
		/// SGD steps of the tiny training run.
		#[arg(long, default_value_t = 20)]
		steps: usize,
		/// libtorch intra-op threads (default: libtorch's own choice).
		#[arg(long)]
		threads: Option<i32>,
		/// Device for the training run.
		#[arg(long, value_enum, default_value_t = doctor::DeviceChoice::Auto)]
		device: doctor::DeviceChoice,
	},
}

fn main() -> Result<()> {
	env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
	let cli = Cli::parse();
	match cli.command {
		Command::Doctor {
			steps,
			threads,
			device,
		} => {
			let report = doctor::run(steps, threads, device)?;
			println!("libtorch version: {}", report.libtorch_version);
			println!("threads:          {}", report.threads);
			println!(
				"cuda:             {}",
				if report.cuda_available {
					format!("available ({} device(s))", report.cuda_devices)
				} else {
					"not available".to_string()
				}
			);
			println!("training device:  {:?}", report.device);
			for (step, loss) in report.losses.iter().enumerate() {
				log::debug!("step {step}: loss {loss:.6}");
			}
			println!(
				"tiny MLP, {steps} SGD steps: loss {:.6} -> {:.6}",
				report.initial_loss(),
				report.final_loss()
			);
			if !(report.final_loss() < report.initial_loss()) {
				anyhow::bail!("the loss did not fall: libtorch does not train correctly here");
			}
			println!("ok");
		}
	}
	Ok(())
}
