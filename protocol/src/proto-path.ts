import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
/** Folder of the .proto schemas (for tools such as grpcurl or server reflection). */
export const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'proto');
