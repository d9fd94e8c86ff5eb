// A shopper client in a process of its own (its CPU is not the server's), written against
// grpc-js's generic client with requests given as encoded bytes: it sends the requests in
// argv[2] (a file of base64 lines) to argv[3] (host:port, TLS trusting the CA PEM in argv[4])
// on method path argv[5], `lanes` (argv[6]) calls at a time for argv[7] ms, and prints one JSON
// line: the answers' status codes by name, an OK answer split by its `approved` field (field 1 of
// IssueCodeResponse and PayMerchantResponse): OK_APPROVED or OK_DECLINED (a decline is an answer).
import { readFileSync } from 'node:fs';
import { credentials, makeGenericClientConstructor, status } from '@grpc/grpc-js';

const [, , file, address, caFile, path, lanesArg, msArg] = process.argv;
const requests = readFileSync(file, 'utf8')
  .trim()
  .split('\n')
  .map((l) => Buffer.from(l, 'base64'));
const identity = (b) => b;
const Raw = makeGenericClientConstructor(
  {
    call: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  'Raw',
);
const client = new Raw(address, credentials.createSsl(readFileSync(caFile)));
const until = Date.now() + Number(msArg);

/** Field 1 (a varint, `approved`) of a protobuf message at its top level; false when absent. */
function approved(bytes) {
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; i < bytes.length; shift += 7) {
      const b = bytes[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new Error('truncated varint');
  };
  while (i < bytes.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (wire === 0) {
      const v = varint();
      if (field === 1) return v !== 0;
    } else if (wire === 2) {
      const length = varint(); // read before adding: `i += varint()` would add to the i before the length
      i += length;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`wire type ${wire}`);
  }
  return false;
}
const codes = {};
let next = 0;
const loop = async () => {
  while (Date.now() < until) {
    const req = requests[next++ % requests.length];
    const name = await new Promise((resolve) =>
      client.call(req, { deadline: Date.now() + 10_000 }, (e, res) =>
        resolve(e ? status[e.code] : approved(res) ? 'OK_APPROVED' : 'OK_DECLINED'),
      ),
    );
    codes[name] = (codes[name] ?? 0) + 1;
  }
};
await Promise.all(Array.from({ length: Number(lanesArg) }, loop));
client.close();
process.stdout.write(`${JSON.stringify(codes)}\n`);
