//! Terminal configuration JSON (`TerminalConfig::from_json`, vectors/terminals/): never panics;
//! an accepted configuration validates, has AIDs, and survives serialise → parse unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::config::TerminalConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = TerminalConfig::from_json(text) else {
        return;
    };
    // Code and JSON share one validation path: the parts build again.
    let rebuilt = TerminalConfig::new(config.parts().clone()).expect("accepted parts build");
    assert_eq!(rebuilt, config);
    let aids = config.terminal_aids();
    assert!(!aids.is_empty());
    for aid in &aids {
        assert!(config.parameters_for(&aid.aid).is_some());
    }
    let json = serde_json::to_string(&config).expect("a configuration serialises");
    let again = TerminalConfig::from_json(&json).expect("a serialised configuration parses");
    assert_eq!(
        serde_json::to_string(&again).expect("serialises"),
        json,
        "serialise → parse changed the configuration"
    );
});
