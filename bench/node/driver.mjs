// Bench driver for the npm package `ksef-client-ts`, used by bench/compare.sh.
//
//   node driver.mjs TASK ARGS...
//
//   import                          import the package only
//   batch DIR CERT_PEM OUT          createZip + BatchFileBuilder.build (split, AES-256-CBC, SHA-256)
//   online DIR                      per invoice: getFileMetadata, encryptAES256, getFileMetadata, base64
//   decrypt IN OUT KEY_HEX IV_HEX   CryptographyService.decryptAES256 of IN into OUT
//
// The package is resolved from the working directory (the temporary install), so run this
// with `cd $NODE_DIR`. CryptographyService normally gets its certificate from a live
// CertificateFetcher; here a stub fetcher hands it the local test certificate.
import { readFileSync, writeFileSync, readdirSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(join(process.cwd(), "package.json"));
const [task, ...args] = process.argv.slice(2);

const lib = await import(require.resolve("ksef-client-ts"));
if (task === "import") process.exit(0);

const stubFetcher = (pem) => ({
  getSymmetricKeyEncryption: () => ({ pem, publicKeyId: "bench" }),
});
const files = (dir) => readdirSync(dir).sort().map((name) => ({ name, path: join(dir, name) }));

if (task === "batch") {
  const [dir, cert, out] = args;
  const crypto = new lib.CryptographyService(stubFetcher(readFileSync(cert, "utf8")));
  const encryption = await crypto.getEncryptionData();
  const entries = files(dir).map(({ name, path }) => ({ fileName: name, content: readFileSync(path) }));
  const zip = await lib.createZip(entries);
  const result = lib.BatchFileBuilder.build(zip, (part) =>
    crypto.encryptAES256(part, encryption.cipherKey, encryption.cipherIv));
  mkdirSync(out, { recursive: true });
  result.encryptedParts.forEach((part, i) =>
    writeFileSync(join(out, `part-${String(i + 1).padStart(4, "0")}.zip.aes`), part));
  console.log(`${entries.length} invoice(s), zip ${result.batchFile.fileSize} bytes, ${result.encryptedParts.length} part(s)`);
} else if (task === "online") {
  const [dir] = args;
  const crypto = new lib.CryptographyService(stubFetcher(""));
  const { randomBytes } = await import("node:crypto");
  const key = new Uint8Array(randomBytes(32));
  const iv = new Uint8Array(randomBytes(16));
  let total = 0;
  for (const { path } of files(dir)) {
    const data = new Uint8Array(readFileSync(path));
    // The same steps as the package's own online-send path (OnlineSessionHandle.sendInvoice).
    const plainMeta = crypto.getFileMetadata(data);
    const encrypted = crypto.encryptAES256(data, key, iv);
    const encMeta = crypto.getFileMetadata(encrypted);
    const request = {
      invoiceHash: plainMeta.hashSHA,
      invoiceSize: plainMeta.fileSize,
      encryptedInvoiceHash: encMeta.hashSHA,
      encryptedInvoiceSize: encMeta.fileSize,
      encryptedInvoiceContent: Buffer.from(encrypted).toString("base64"),
    };
    total += request.encryptedInvoiceContent.length;
  }
  console.log(`prepared, ${total} base64 bytes`);
} else if (task === "decrypt") {
  const [input, output, key, iv] = args;
  const crypto = new lib.CryptographyService(stubFetcher(""));
  const plain = crypto.decryptAES256(readFileSync(input), Buffer.from(key, "hex"), Buffer.from(iv, "hex"));
  writeFileSync(output, plain);
  console.log(`decrypted ${plain.length} bytes`);
} else {
  console.error(`unknown task ${task}`);
  process.exit(2);
}
