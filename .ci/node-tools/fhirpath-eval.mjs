// fhirpath.js with the R4 model: evaluate expressions on resources.
// stdin: JSON [{resource, expression}, ...]; stdout: JSON [result | {error}, ...]
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import fs from 'node:fs';

const checks = JSON.parse(fs.readFileSync(0, 'utf8'));
const results = checks.map(({ resource, expression }) => {
  try {
    return fhirpath.evaluate(resource, expression, null, r4);
  } catch (error) {
    return { error: String(error.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
