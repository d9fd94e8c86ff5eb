// A shopper client in a process of its own (its CPU is not the server's), written against
// grpc-js's generic client with requests given as encoded bytes: it sends the requests in
// argv[2] (a file of base64 lines) to argv[3] (host:port, TLS trusting the CA PEM in argv[4])
// on method path argv[5], `lanes` (argv[6]) calls at a time for argv[7] ms, and prints one JSON
// line: the answers' status codes by name.
import { readFileSync } from 'node:fs';
import { credentials, makeGenericClientConstructor, status } from '@grpc/grpc-js';

const [, , file, address, caFile, path, lanesArg, msArg] = process.argv;
const requests = readFileSync(file, 'utf8').trim().split('\n').map((l) => Buffer.from(l, 'base64'));
const identity = (b) => b;
const Raw = makeGenericClientConstructor({ call: { path, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } }, 'Raw');
const client = new Raw(address, credentials.createSsl(readFileSync(caFile)));
const until = Date.now() + Number(msArg);
const codes = {};
let next = 0;
const loop = async () => {
  while (Date.now() < until) {
    const req = requests[next++ % requests.length];
    const code = await new Promise((resolve) => client.call(req, { deadline: Date.now() + 10_000 }, (e) => resolve(e ? e.code : status.OK)));
    codes[status[code]] = (codes[status[code]] ?? 0) + 1;
  }
};
await Promise.all(Array.from({ length: Number(lanesArg) }, loop));
client.close();
process.stdout.write(`${JSON.stringify(codes)}\n`);
