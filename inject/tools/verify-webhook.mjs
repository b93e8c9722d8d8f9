// Verifies a webhook with the Standard Webhooks reference library (not
// wabridge's code). Input on stdin: {"secret", "headers": {...}, "body"}.
// Exit 0 and print the payload if it verifies; exit 1 otherwise.
import { Webhook } from 'standardwebhooks';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { secret, headers, body } = JSON.parse(input);
try {
  const payload = new Webhook(secret).verify(body, headers);
  process.stdout.write(JSON.stringify(payload));
} catch (e) {
  process.stderr.write(String(e && e.message ? e.message : e));
  process.exit(1);
}
