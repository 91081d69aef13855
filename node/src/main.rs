//! `polchain-node`: the polchain full node and its command line.
#![warn(missing_docs)]

mod chain_spec;
mod cli;
mod command;
mod pol_rpc;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
