// fhir-package-loader: load a package from the FHIR cache (~/.fhir/packages) and look up
// every resource of its .index.json by canonical URL, within the package.
// usage: node fpl-find.mjs NAME VERSION   (prints JSON: status, log, found)
import { defaultPackageLoader } from 'fhir-package-loader';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [name, version] = process.argv.slice(2);
const log = [];
const loader = await defaultPackageLoader({ log: (level, message) => log.push({ level, message }) });
const status = await loader.loadPackage(name, version);
const folder = path.join(os.homedir(), '.fhir', 'packages', `${name}#${version}`, 'package');
const index = JSON.parse(fs.readFileSync(path.join(folder, '.index.json'), 'utf8'));
const found = index.files.map((entry) => {
  const key = entry.url ?? entry.id;
  const info = loader.findResourceInfo(key, { scope: name, type: [entry.resourceType] });
  const json = loader.findResourceJSON(key, { scope: name, type: [entry.resourceType] });
  return {
    filename: entry.filename,
    key,
    resourceType: info?.resourceType ?? null,
    id: info?.id ?? null,
    url: info?.url ?? null,
    version: info?.version ?? null,
    packageVersion: info?.packageVersion ?? null,
    sameJson: json ? json.id === entry.id && json.resourceType === entry.resourceType : false,
  };
});
process.stdout.write(JSON.stringify({ status, log, found }));
