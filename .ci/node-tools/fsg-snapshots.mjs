// fhir-snapshot-generator: the snapshot of each profile URL, generated from the package's
// differentials in the context of NAME#VERSION (registry off: dependencies from the cache).
// usage: node fsg-snapshots.mjs CACHE NAME#VERSION URL...   (prints JSON: url -> elements)
import { FhirPackageExplorer } from 'fhir-package-explorer';
import { FhirSnapshotGenerator } from 'fhir-snapshot-generator';

const [cachePath, context, ...urls] = process.argv.slice(2);
const quiet = { info() {}, warn() {}, error: (m) => process.stderr.write(`${m}\n`) };
const fpe = await FhirPackageExplorer.create({
  context: [context], cachePath, fhirVersion: '4.0.1', skipExamples: true, registryUrl: 'n/a', logger: quiet,
});
const fsg = await FhirSnapshotGenerator.create({ fpe, fhirVersion: '4.0.1', cacheMode: 'none', logger: quiet });
const out = {};
for (const url of urls) {
  out[url] = (await fsg.getSnapshot(url)).snapshot.element;
}
process.stdout.write(JSON.stringify(out));
