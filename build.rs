//! Finds Asterisk's headers, generates Rust declarations for the parts of
//! Asterisk the module uses, and compiles the C shim that registers the
//! module (AST_MODULE_INFO is a macro: only a C compiler can expand it).
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

fn main() {
    println!("cargo:rerun-if-env-changed={ENV_INCLUDE}");
    println!("cargo:rerun-if-env-changed={ENV_REQUIRE}");
    println!("cargo:rerun-if-changed=include/shim.c");
    println!("cargo:rerun-if-changed=include/shim.h");
    println!("cargo:rerun-if-changed=include/wrapper.h");
    println!("cargo:rerun-if-changed=asterisk-headers/asterisk.h");
    println!("cargo::rustc-check-cfg=cfg(otrs_no_asterisk)");

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

    compile_shim(&include);
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

fn has_headers(dir: &Path) -> bool {
    dir.join("asterisk.h").is_file() && dir.join("asterisk/module.h").is_file()
}

fn compile_shim(include: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    cc::Build::new()
        .file("include/shim.c")
        .include("include")
        .include(include)
        .define("_GNU_SOURCE", None)
        .flag_if_supported("-fno-strict-aliasing")
        // Asterisk's own headers trip this one.
        .flag_if_supported("-Wno-old-style-declaration")
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
