//! What a package installs: the icon at every size, a desktop entry and AppStream metainfo that
//! validate, the man page and shell completions made from the option definitions, and a
//! version that names its git revision.

use std::process::Command;

use crate::common::*;

fn mcgurk(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_icon_exists_at_every_size_from_its_svg() {
    let icons = root().join("packaging/icons");
    let svg = std::fs::read_to_string(icons.join("org.mcgurk.McGurk.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("viewBox=\"0 0 512 512\""));
    assert!(std::fs::read_to_string(icons.join("LICENSE")).unwrap().contains("CC0-1.0"));
    for n in [16u32, 24, 32, 48, 64, 128, 256, 512] {
        let png = image::open(icons.join(format!("hicolor/{n}x{n}/apps/org.mcgurk.McGurk.png"))).unwrap();
        assert_eq!((png.width(), png.height()), (n, n));
        // Drawn, with transparent corners (the rounded square).
        let rgba = png.to_rgba8();
        assert_eq!(rgba.get_pixel(0, 0).0[3], 0, "{n}: corner");
        assert_eq!(rgba.get_pixel(n / 2, n / 2).0[3], 255, "{n}: centre");
    }
}

/// Runs a validator when it is installed (tests/run.sh installs both), else says so loudly.
fn validate(test: &str, program: &str, args: &[&str], file: &str) {
    let path = root().join("packaging").join(file);
    match Command::new(program).args(args).arg(&path).output() {
        Err(_) => loud_skip(test, &format!("{program} is not installed (Debian: appstream, desktop-file-utils)")),
        Ok(out) => {
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{program} {file}: {text}");
            assert!(!text.contains("error") && !text.contains("warning") && !text.contains("hint"), "{program} {file}: {text}");
        }
    }
}

#[test]
fn the_desktop_entry_and_metainfo_validate() {
    validate("the_desktop_entry_and_metainfo_validate", "desktop-file-validate", &[], "org.mcgurk.McGurk.desktop");
    validate("the_desktop_entry_and_metainfo_validate", "appstreamcli", &["validate", "--no-net"], "org.mcgurk.McGurk.metainfo.xml");
    let entry = std::fs::read_to_string(root().join("packaging/org.mcgurk.McGurk.desktop")).unwrap();
    assert!(entry.contains("Icon=org.mcgurk.McGurk") && entry.contains("Exec=mcgurk open %f"));
    let meta = std::fs::read_to_string(root().join("packaging/org.mcgurk.McGurk.metainfo.xml")).unwrap();
    assert!(meta.contains("<binary>mcgurk</binary>") && meta.contains("<launchable type=\"desktop-id\">org.mcgurk.McGurk.desktop</launchable>"));
    assert!(meta.contains("content_rating") && meta.contains("<release version=\"0.1.0\""));
    // The screenshots it names are committed.
    for shot in ["attack.png", "classwise.png"] {
        assert!(meta.contains(&format!("packaging/screenshots/{shot}")));
        assert!(image::open(root().join("packaging/screenshots").join(shot)).unwrap().width() >= 1024);
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(meta.contains(&format!("<release version=\"{version}\"")), "the metainfo's newest release is the package's version");
}

#[test]
fn the_man_page_and_completions_come_from_the_options() {
    let man = mcgurk(&["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH mcgurk 1"), "{}", &man[..200.min(man.len())]);
    for section in ["MCGURK ATTACK", "MCGURK EVAL", "MCGURK TRAIN", "MCGURK OPEN"] {
        assert!(man.contains(section), "{section}");
    }
    assert!(man.contains("shard") && man.contains("eps\\-a"), "options are listed");
    let bash = mcgurk(&["completions", "bash"]);
    assert!(bash.contains("_mcgurk()") && bash.contains("--universal-from"));
    assert!(mcgurk(&["completions", "zsh"]).starts_with("#compdef mcgurk"));
    assert!(mcgurk(&["completions", "fish"]).contains("complete -c mcgurk"));
}

#[test]
fn the_version_names_the_git_revision() {
    let version = mcgurk(&["--version"]);
    let git = Command::new("git").args(["rev-parse", "--short=10", "HEAD"]).current_dir(root()).output().ok().filter(|o| o.status.success());
    let revision = git.map_or("unknown".to_string(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(version.trim(), format!("mcgurk {} ({revision})", env!("CARGO_PKG_VERSION")));
}
