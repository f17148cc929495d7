//! A line from an agent, as `cpos stdio` frames it: whatever parses must
//! re-serialise to one line that parses to the same messages.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let Ok(env) = cpos::mcp::jsonrpc::parse(line) else {
        return;
    };
    for message in &env.messages {
        let value = serde_json::Value::Object(message.value.clone());
        let framed = cpos::mcp::downstream::line_safe_json(&value);
        assert!(!framed.contains(&b'\n') && !framed.contains(&b'\r'));
        let again = cpos::mcp::jsonrpc::parse(&framed).expect("re-serialised message parses");
        assert_eq!(again.messages.len(), 1);
        assert_eq!(again.messages[0].value, message.value);
    }
});
