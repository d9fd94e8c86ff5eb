/**
 * What each step of a payment costs apart from the radio and the card: one till, its backend and
 * phones in one process over the in-memory link (no connection events), `instant` cards. Prints,
 * as JSON lines: the backend's calls as the till's gRPC client sees them (Challenge, Authorize,
 * Settle over loopback with mutual TLS, p50/p99), the phone's step figures without radio or card
 * (what is left is the phone's and the till's own CPU beside the backend call), and the size of
 * each protocol message on the link (what the radio has to carry). The radio's and the card's
 * share come from the fleet (`npm run fleet -- --phones 1 --log-dir DIR`) and the card's timing
 * model; docs/2026-12-07-what-limits-each-step.md puts them side by side.
 *
 *   npx tsx tests/bench/step-costs.ts [payments]      (default 40, after 5 to warm up)
 */
import { GrpcBackendClient } from '@bluetill/pos-terminal';
import { InMemoryRadio, startWorld, stepDurations, type PhoneRun } from '@bluetill/simulator';
import { LAST } from '@bluetill/protocol';
import type { CentralLink } from '@bluetill/phone-agent';
import { percentile, report } from './report';

type Timed = 'challenge' | 'authorize' | 'settle';
const calls: Record<Timed, number[]> = { challenge: [], authorize: [], settle: [] };
// Measurement hook: the till's backend client, timed around each call (this process only).
const proto = GrpcBackendClient.prototype as unknown as Record<Timed, (...a: unknown[]) => Promise<unknown>>;
for (const m of Object.keys(calls) as Timed[]) {
  const call = proto[m];
  proto[m] = async function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    try {
      return await call.apply(this, a);
    } finally {
      calls[m].push(performance.now() - t);
    }
  };
}

/** The link as the phone sees it, counting the bytes of each whole message each way. */
function sizing(link: CentralLink, sizes: string[]): CentralLink {
  let up = 0;
  let down = 0;
  link.onValue((v) => {
    down += v.length;
    if ((v[0]! & LAST) === 0) return;
    sizes.push(`till->phone ${down}`);
    down = 0;
  });
  return {
    get mtu() {
      return link.mtu;
    },
    write: async (v, o) => {
      up += v.length;
      if ((v[0]! & LAST) !== 0) {
        sizes.push(`phone->till ${up}`);
        up = 0;
      }
      await link.write(v, o);
    },
    readInfo: () => link.readInfo(),
    onValue: (h) => link.onValue(h),
    onDisconnect: (h) => link.onDisconnect(h),
    disconnect: () => link.disconnect(),
  };
}

const N = Number(process.argv[2] ?? 40);
const WARM_UP = 5;
const world = await startWorld({ radio: new InMemoryRadio() });
const steps: Record<string, number[]> = {};
let sizes: string[] = [];
try {
  for (let i = 0; i < N + WARM_UP; i++) {
    world.ringUp([{ sku: `gum-${i}`, name: 'Gum', quantity: 1, unitPriceMinor: 50 + i }]);
    const seen: string[] = [];
    const run: PhoneRun = await world.phonePays('card-alice', '1234', { wrapLink: (l) => sizing(l, seen) });
    if (run.outcome.kind !== 'approved') throw new Error(`payment ${i}: ${run.outcome.kind}`);
    if (i < WARM_UP) {
      for (const v of Object.values(calls)) v.length = 0;
      continue;
    }
    sizes = seen;
    for (const [k, v] of Object.entries(run.steps ? stepDurations(run.steps) : {}))
      (steps[k] ??= []).push(v as number);
  }
} finally {
  await world.close();
}
const about = { unit: 'ms', payments: N, link: 'in-memory', card_profile: 'instant' };
for (const [m, v] of Object.entries(calls)) {
  const s = v.sort((a, b) => a - b);
  report({
    bench: `step_cost_backend_${m}_p50_ms`,
    value: percentile(s, 50),
    p99_ms: percentile(s, 99),
    ...about,
    note: "as the till's gRPC client sees it (loopback, mutual TLS)",
  });
}
for (const k of ['pinToAuthorizedMs', 'confirmToReceiptMs', 'machineMs'] as const) {
  const s = (steps[k] ?? []).sort((a, b) => a - b);
  report({
    bench: `step_cost_no_radio_${k.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_p50_ms`,
    value: percentile(s, 50),
    p99_ms: percentile(s, 99),
    ...about,
  });
}
report({
  bench: 'step_cost_message_bytes',
  value: sizes.length,
  unit: 'messages',
  sizes,
  note: 'Hello, HelloAck, CardAuth, AuthResult, Payment, Receipt as framed on the link',
});
