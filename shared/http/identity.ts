// Who the buyer is: the `sub` claim of the JWT that API Gateway's JWT authorizer (or the local gateway, which makes
// the same checks) verified. Handlers read it from the authorizer context, never from the token itself.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The authorizer context of a request verified by a JWT authorizer (payload format 2.0). */
export interface JwtAuthorizerContext {
  jwt: { claims: Record<string, string | number | boolean | string[]>; scopes: string[] | null };
}

/** The verified buyer's customer id (`sub`), or undefined for an anonymous request. */
export function customerOf(event: APIGatewayProxyEventV2): string | undefined {
  const context = (event.requestContext as { authorizer?: Partial<JwtAuthorizerContext> }).authorizer;
  const sub = context?.jwt?.claims?.sub;
  return typeof sub === 'string' && sub.length > 0 ? sub : undefined;
}
