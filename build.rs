//! Finds Asterisk's headers, generates Rust declarations for the parts of
//! Asterisk the module uses, and compiles the C shim that registers the
//! module (AST_MODULE_INFO is a macro: only a C compiler can expand it).
//!
//! It also tells the code which Asterisk series the headers are of (16 to
//! 23), as cfgs the way ngx-rust does for nginx: `ast_series="22"` and
//! `ast_ge_17` ... `ast_ge_23`, so a call that only some series have is
//! compiled only for them (see `detect_series`).
//!
//! Without the headers (a plain `cargo test` on a machine with no Asterisk)
//! it builds an inert stub instead, so the pure crates' tests still run:
//! cfg `otrs_no_asterisk` compiles the Asterisk glue out, and the stub
//! cannot be loaded (see src/lib.rs). `OTRS_REQUIRE_ASTERISK=1`, which the
//! project's scripts set, makes missing headers an error again.

use std::env;
use std::path::{Path, PathBuf};

const ENV_INCLUDE: &str = "ASTERISK_INCLUDE_DIR";
const ENV_REQUIRE: &str = "OTRS_REQUIRE_ASTERISK";
const ENV_VERSION: &str = "ASTERISK_VERSION";
/// The series this source supports; `ast_ge_N` cfgs exist for the ones after the first.
const SERIES: std::ops::RangeInclusive<u32> = 16..=23;

fn main() {
    println!("cargo:rerun-if-env-changed={ENV_INCLUDE}");
    println!("cargo:rerun-if-env-changed={ENV_REQUIRE}");
    println!("cargo:rerun-if-changed=include/shim.c");
    println!("cargo:rerun-if-changed=include/shim.h");
    println!("cargo:rerun-if-changed=include/wrapper.h");
    println!("cargo:rerun-if-changed=asterisk-headers/asterisk.h");
    println!("cargo:rerun-if-env-changed={ENV_VERSION}");
    println!("cargo::rustc-check-cfg=cfg(otrs_no_asterisk)");
    let names: Vec<String> = SERIES.map(|n| format!("\"{n}\"")).collect();
    println!("cargo::rustc-check-cfg=cfg(ast_series, values({}))", names.join(", "));
    for n in SERIES.skip(1) {
        println!("cargo::rustc-check-cfg=cfg(ast_ge_{n})");
    }

    let include = match find_headers() {
        Ok(dir) => dir,
        Err(help) if env::var(ENV_REQUIRE).is_ok_and(|v| !v.is_empty() && v != "0") => panic!("{help}"),
        Err(help) => {
            for line in help.lines().filter(|l| !l.trim().is_empty()) {
                println!("cargo:warning={}", line.trim_end());
            }
            println!(
                "cargo:warning=Building an inert stub instead of the module: enough for `cargo test`, \
                 but Asterisk cannot load it. scripts/test.sh builds the real module."
            );
            println!("cargo:rustc-cfg=otrs_no_asterisk");
            return;
        }
    };
    println!("cargo:rustc-env=OTRS_ASTERISK_INCLUDE={}", include.display());
    for f in [".version", ".source", "asterisk/autoconfig.h"] {
        println!("cargo:rerun-if-changed={}", include.join(f).display());
    }

    let (series, version, how) = detect_series(&include);
    println!("cargo:rustc-cfg=ast_series=\"{series}\"");
    for n in SERIES.skip(1).filter(|n| *n <= series) {
        println!("cargo:rustc-cfg=ast_ge_{n}");
    }
    // For `otrs show status` and the load message: the series built for, and
    // the version when known.
    println!("cargo:rustc-env=OTRS_ASTERISK_SERIES={series}");
    println!("cargo:rustc-env=OTRS_ASTERISK_BUILT_FOR={version}");
    if how.starts_with("guessed") {
        println!("cargo:warning=Asterisk series {series} {how}; set {ENV_VERSION} (e.g. {ENV_VERSION}=20.6.0) to be sure");
    }

    compile_shim(&include, series);
    generate_bindings(&include);
}

/// The folder holding `asterisk.h`: `$ASTERISK_INCLUDE_DIR`, else the system's
/// (package asterisk-dev), else `asterisk-headers/` in this repository.
/// Err: none found, with what to do about it.
fn find_headers() -> Result<PathBuf, String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut tried = Vec::new();

    if let Ok(dir) = env::var(ENV_INCLUDE) {
        let dir = PathBuf::from(dir);
        if has_headers(&dir) {
            return Ok(dir);
        }
        // An explicit setting that is wrong must not silently fall back.
        panic!(
            "\n{ENV_INCLUDE}={} does not hold asterisk.h and asterisk/module.h.\n\
             Set it to the folder that contains asterisk.h (e.g. /usr/include).\n",
            dir.display()
        );
    }
    for dir in [PathBuf::from("/usr/include"), manifest.join("asterisk-headers")] {
        if has_headers(&dir) {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    Err(format!(
        "\nAsterisk headers not found (looked in: {}).\n\
         Do one of these:\n  \
         1. set {ENV_INCLUDE} to the folder that holds asterisk.h, or\n  \
         2. install the development headers of the Asterisk you run, so /usr/include/asterisk.h exists (Debian sid, Ubuntu: asterisk-dev; FreePBX: asterisk<N>-devel for its Asterisk N; Debian 12 has no Asterisk package, so use 1. or 3.), or\n  \
         3. run scripts/fetch-asterisk-headers.sh, which unpacks Debian sid's asterisk-dev (Asterisk 22) into asterisk-headers/.\n",
        tried.join(", ")
    ))
}

/// The Asterisk series (major version) of the headers in `include`, the
/// version text to show, and how it was found. The headers carry no usable
/// version macro: asterisk/version.h is an #error stub, and autoconfig.h's
/// PACKAGE_VERSION is "trunk" in 16's and the major alone from about 20 on.
/// In order: `$ASTERISK_VERSION` (e.g. "20.6.0"), the Debian version that
/// scripts/fetch-asterisk-headers.sh leaves in `.version` (or the package
/// name in `.source`), a numeric PACKAGE_VERSION, and last markers in the
/// headers (a guess: the oldest series they fit, whose API is the
/// smallest).
fn detect_series(include: &Path) -> (u32, String, &'static str) {
    let read = |f: &str| std::fs::read_to_string(include.join(f)).unwrap_or_default();
    let check = |series: Option<u32>, what: &str| -> Option<u32> {
        let n = series?;
        if !SERIES.contains(&n) {
            panic!("\n{what} says Asterisk {n}; this module supports Asterisk {} to {}.\n", SERIES.start(), SERIES.end());
        }
        Some(n)
    };
    if let Ok(v) = env::var(ENV_VERSION) {
        let n = check(major(&v), ENV_VERSION).unwrap_or_else(|| panic!("\n{ENV_VERSION}={v} is not a version like 20.6.0\n"));
        return (n, v.trim().to_string(), "from ASTERISK_VERSION");
    }
    let debian = read(".version");
    let debian = debian.trim();
    if let Some(n) = check(major(debian.split_once(':').map_or(debian, |(_, v)| v)), ".version") {
        return (n, debian.to_string(), "from the fetched package's version");
    }
    // asterisk-dev_1%3a22.10.1+dfsg..._all.deb
    let source = read(".source");
    if let Some(v) = source.trim().split('_').nth(1) {
        let v = v.split_once("%3a").map_or(v, |(_, v)| v);
        if let Some(n) = check(major(v), ".source") {
            return (n, v.to_string(), "from the fetched package's name");
        }
    }
    let autoconfig = read("asterisk/autoconfig.h");
    let package_version = autoconfig
        .lines()
        .find_map(|l| l.strip_prefix("#define PACKAGE_VERSION "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    if let Some(n) = check(major(&package_version), "PACKAGE_VERSION in asterisk/autoconfig.h") {
        return (n, package_version, "from PACKAGE_VERSION");
    }
    // app_macro (and the channel's macro accessors, and res_monitor) went
    // in 21; stasis_state.h and res_prometheus.h came in 17.
    let has = |f: &str| include.join(f).is_file();
    let macros = read("asterisk/channel.h").contains("ast_channel_macrocontext") || has("asterisk/monitor.h");
    let newer_than_16 = has("asterisk/stasis_state.h") || has("asterisk/res_prometheus.h");
    let n = match (newer_than_16, macros) {
        (false, _) => 16,
        (true, true) => 17,
        (true, false) => 21,
    };
    (n, format!("{n} (guessed)"), "guessed from the headers (no version found)")
}

/// The leading number of a version text: "16.28.0~dfsg" → 16, "22" → 22.
fn major(v: &str) -> Option<u32> {
    let digits: String = v.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn has_headers(dir: &Path) -> bool {
    dir.join("asterisk.h").is_file() && dir.join("asterisk/module.h").is_file()
}

fn compile_shim(include: &Path, series: u32) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut build = cc::Build::new();
    // Asterisk's own headers trip this one with gcc; clang (zig cc) knows no such option.
    if !build.get_compiler().is_like_clang() {
        build.flag("-Wno-old-style-declaration");
    }
    build
        .file("include/shim.c")
        .include("include")
        .include(include)
        .define("_GNU_SOURCE", None)
        .define("OTRS_AST_SERIES", series.to_string().as_str())
        .flag_if_supported("-fno-strict-aliasing")
        // clang (zig cc, for the glibc floor: scripts/build-release.sh): the
        // headers' RAII_VAR is a block there; unused here, but it must parse.
        .flag_if_supported("-fblocks")
        .warnings(true)
        // Linked by hand below: only into the cdylib, and whole, because
        // nothing in Rust references the registration constructor.
        .cargo_metadata(false)
        .compile("otrsshim");
    let lib = out.join("libotrsshim.a");
    // cdylib-only link args: unit-test binaries do not link the shim, so
    // they need no Asterisk symbols at all.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--whole-archive");
    println!("cargo:rustc-cdylib-link-arg={}", lib.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,--no-whole-archive");
}

fn generate_bindings(include: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let functions = [
        "otrs_shim_.*",
        "ast_unregister_application",
        "ast_cli_unregister_multiple",
        "ast_autoservice_start",
        "ast_autoservice_stop",
        "ast_check_hangup",
        "ast_channel_name",
        "ast_channel_uniqueid",
        "ast_channel_linkedid",
        "ast_channel_exten",
        "ast_channel_context",
        "pbx_builtin_setvar_helper",
        "ast_func_write",
        "ast_config_load2",
        "ast_config_destroy",
        "ast_category_browse",
        "ast_variable_browse",
        "ast_cli",
        "ast_get_version",
        "ast_module_check",
    ];
    let mut builder = bindgen::Builder::default()
        .header("include/wrapper.h")
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg("-Iinclude")
        .clang_arg("-D_GNU_SOURCE")
        .clang_arg("-fblocks")
        .allowlist_type("ast_cli_entry")
        .allowlist_type("ast_cli_args")
        .allowlist_type("ast_cli_command")
        .allowlist_type("ast_variable")
        .allowlist_type("ast_flags")
        .allowlist_type("ast_module_load_result")
        .opaque_type("ast_channel")
        .opaque_type("ast_config")
        .layout_tests(false)
        .derive_default(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in functions {
        builder = builder.allowlist_function(f);
    }
    let bindings = builder.generate().unwrap_or_else(|e| {
        panic!(
            "\nbindgen failed on Asterisk's headers in {}: {e}\n\
             bindgen needs libclang: apt-get install libclang1-14 libclang-common-14-dev\n",
            include.display()
        )
    });
    bindings.write_to_file(out.join("asterisk_bindings.rs")).expect("write bindings");
}
