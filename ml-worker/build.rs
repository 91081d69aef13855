//! Embeds an rpath to libtorch, so that `pol-worker` runs without LD_LIBRARY_PATH, and records
//! the libtorch version it was built against.
use std::path::Path;

fn main() {
	println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
	// torch-sys (`links = "tch"`) exports the directory it linked libtorch from.
	let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
		println!("cargo:rustc-env=POL_LIBTORCH_VERSION=unknown");
		return;
	};
	println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
	// With LIBTORCH_USE_PYTORCH the directory is `<site-packages>/torch/lib`, next to the
	// wheel's `version.py`.
	let version_py = Path::new(&lib_dir).join("..").join("version.py");
	println!("cargo:rerun-if-changed={}", version_py.display());
	let version = std::fs::read_to_string(&version_py)
		.ok()
		.and_then(|text| {
			text.lines().find_map(|line| {
				let rest = line.strip_prefix("__version__")?;
				let value = rest.split('=').nth(1)?.trim();
				Some(value.trim_matches(|c| c == '\'' || c == '"').to_string())
			})
		})
		.unwrap_or_else(|| "unknown".into());
	println!("cargo:rustc-env=POL_LIBTORCH_VERSION={version}");
}
