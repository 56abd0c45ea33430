// Validates Kubernetes objects against the API's schemas offline, with npm's
// kubernetes-models (and @kubernetes-models/prometheus-operator for the
// PodMonitor). Input: a JSON array of objects on stdin, as rendered from the
// kustomizations. Prints one line per object; exits 1 if any is invalid.
import { readFileSync } from "node:fs";

const objects = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const obj of objects) {
	const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
	const pkg = group.endsWith("monitoring.coreos.com")
		? `@kubernetes-models/prometheus-operator/${group}/${version}`
		: group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
	const name = `${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}`;
	try {
		const Model = (await import(pkg))[obj.kind];
		if (!Model)
			throw new Error(`${pkg} has no ${obj.kind}`);
		new Model(obj).validate();
		console.log(`valid ${name}`);
	} catch (e) {
		bad++;
		console.log(`INVALID ${name}: ${e.message}`);
	}
}
process.exit(bad ? 1 : 0);
