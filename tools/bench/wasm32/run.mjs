// One replay on the MicroPython WebAssembly port (32-bit), for bench.py.
//
//   node tools/bench/wasm32/run.mjs --romfs IMAGE --heap BYTES --rec /rom/rec/idle.rec
//
// Loads MicroPython with a GC heap of BYTES (loadMicroPython's heapsize; this variant grows
// the heap instead of failing, which w32host.py turns into a failed run), mounts IMAGE as
// its ROMFS (the phone's .mpy files, w32host.mpy and the recordings; code runs in place,
// outside the heap, as on a device), runs bench.py's boot code (--boot FILE, else the copy
// below) and calls w32host's step function until it returns its result. Every call from
// here into Python is a top-level call: the port collects garbage after each one only.
// Prints MicroPython's output; the result is the line "w32 result {json}".
import crypto from "node:crypto";
import fs from "node:fs";

import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const romfs = fs.readFileSync(arg("--romfs"));
const heapsize = parseInt(arg("--heap", "262144"), 10);
const rec = arg("--rec");
const bootFile = arg("--boot");

function fail(why) {
  console.log("w32 result " + JSON.stringify({ ok: false, why: String(why).slice(-400) }));
  process.exit(0);
}

let mp;
try {
  mp = await loadMicroPython({
    heapsize,
    pystack: 16384, // words, outside the GC heap (the unix port and the ESP32 use the C stack)
    romfs,
    stdout: (line) => console.log(line),
    stderr: (line) => console.log("stderr: " + line),
  });
} catch (e) {
  fail("loadMicroPython: " + e);
}
// hashlib.md5 for the digest (the ESP32 has it, this port not): w32host.py's stand-in
mp.registerJsModule("_w32js", {
  md5: (data) => crypto.createHash("md5").update(mp.PyProxy.toJs(data)).digest("hex"),
});
const boot = bootFile ? fs.readFileSync(bootFile, "utf8") : [
  "import gc",
  "T = gc.mem_alloc() + gc.mem_free()",
  "import sys",
  'sys.path[0:0] = ["/rom/lib"]',
  "import w32host",
].join("\n");
try {
  mp.runPython(boot + "\nstep = w32host.start(" + JSON.stringify(rec) + ", T)\ngc.collect()\n");
  const step = mp.globals.get("step");
  for (;;) {
    const r = step();
    if (r !== null && r !== undefined) {
      console.log("w32 result " + r);
      break;
    }
  }
} catch (e) {
  fail(e && e.message ? e.message : e);
}
