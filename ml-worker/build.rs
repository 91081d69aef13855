//! Embeds an rpath to libtorch, so that `pol-worker` runs without LD_LIBRARY_PATH, records
//! the libtorch version it was built against, and compiles `cpp/determinism.cpp` (what tch does
//! not expose of libtorch's determinism switches) against libtorch's headers.
use std::path::Path;

fn main() {
	println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
	println!("cargo::rustc-check-cfg=cfg(determinism_shim)");
	// torch-sys (`links = "tch"`) exports the directory it linked libtorch from.
	let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
		println!("cargo:rustc-env=POL_LIBTORCH_VERSION=unknown");
		return;
	};
	println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
	compile_shim(Path::new(&lib_dir));
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

/// The shim, with the flags torch-sys compiles its own C++ with (the C++ ABI must match
/// libtorch's: the capability comes back as a `std::string`).
fn compile_shim(lib_dir: &Path) {
	let source = "cpp/determinism.cpp";
	println!("cargo:rerun-if-changed={source}");
	println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
	let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
	cc::Build::new()
		.cpp(true)
		.pic(true)
		.warnings(false)
		.include(lib_dir.join("..").join("include"))
		.flag("-std=c++17")
		.flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
		.flag("-DGLOG_USE_GLOG_EXPORT")
		.file(source)
		.compile("pol_determinism");
	println!("cargo:rustc-cfg=determinism_shim");
}
