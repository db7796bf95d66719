// The browser's side of Web Push, for the end-to-end test, with independent code: Node's
// crypto for the keys and `http_ece` (the reference implementation of RFC 8188/8291 by the
// RFC's author) for decryption.
//
//   node tests/support/webpush.mjs keys
//     → {"private","p256dh","auth"} (base64url)
//   node tests/support/webpush.mjs decrypt <private> <auth>   (body as base64 on stdin)
//     → the plaintext
import crypto from "node:crypto";
import ece from "http_ece";

const [mode, privateKey, auth] = process.argv.slice(2);
if (mode === "keys") {
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.generateKeys();
  console.log(JSON.stringify({
    private: ecdh.getPrivateKey().toString("base64url"),
    p256dh: ecdh.getPublicKey().toString("base64url"),
    auth: crypto.randomBytes(16).toString("base64url"),
  }));
} else if (mode === "decrypt") {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const body = Buffer.from(Buffer.concat(chunks).toString().trim(), "base64");
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(privateKey, "base64url"));
  const plain = ece.decrypt(body, { version: "aes128gcm", privateKey: ecdh, authSecret: Buffer.from(auth, "base64url") });
  process.stdout.write(plain.toString("utf8"));
} else {
  throw new Error("usage: webpush.mjs keys | decrypt <private> <auth>");
}
