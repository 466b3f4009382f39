import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Json } from './client.js';

/** Every METHOD /path a Fastify app serves, read from `printRoutes` (its tree, one segment per line). */
export function registeredRoutes(tree: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line.replace(/\u00a0/g, ' '));
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    const path = stack.join('');
    for (const method of m[3].split(', ')) routes.push({ method, path });
  }
  return routes;
}

/** `/api/jobs/:id` → `/api/jobs/{id}`, as OpenAPI writes it. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Checks bodies against the response schemas an OpenAPI document declares. */
export class ResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  constructor(private readonly doc: Json) {
    this.ajv.addSchema({ $id: 'doc', components: doc.components });
  }

  /** Throws naming the route, status and first mismatch when `body` does not fit. */
  check(method: string, path: string, status: number, body: unknown): void {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${path} is not in the document`);
    const response = op.responses[String(status)];
    if (!response) throw new Error(`${method} ${path} does not declare status ${status}`);
    const schema = response.content?.['application/json']?.schema;
    if (!schema) throw new Error(`${method} ${path} ${status} has no JSON schema`);
    this.validate(schema, body, `${method} ${path} ${status}`);
  }

  /** Checks a value against a component schema (e.g. WsServerMessage). */
  component(name: string, value: unknown): void {
    this.validate({ $ref: `doc#/components/schemas/${name}` }, value, name);
  }

  private validate(schema: Json, value: unknown, what: string): void {
    const validate = this.ajv.compile(schema);
    if (!validate(value))
      throw new Error(`${what}: ${JSON.stringify(validate.errors?.slice(0, 3))} in ${JSON.stringify(value)}`);
  }
}
