import type { Type } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import type { ModulesContainer } from '@nestjs/core';
import { RpcParamtype } from '@nestjs/microservices/enums/rpc-paramtype.enum';
import type { EventEnvelope } from '@agent-mesh/contracts';
import type { MeshContext } from './mesh-context';

/** Where `@OnMeshEvent` records the controller class and method it decorated (a symbol: not serialised, kept by Nest's copy of the extras). */
export const MESH_HANDLER_METHOD = Symbol('mesh-handler-method');

export interface MeshHandlerMethod {
  readonly controller: Type<unknown>;
  readonly method: string | symbol;
}

/**
 * A mesh handler called straight on its controller: what Nest's RPC pipeline does for a handler
 * with nothing to run around it — place the envelope (`@Payload()`) and the context (`@Ctx()`)
 * in the method's arguments and call it — without its per-message async layers, RxJS and
 * execution contexts (a dozen promise turns before the handler runs, as many after it returns).
 * Returns the method's own result, so a synchronous handler can be acked in the same turn.
 */
export type DirectHandler = (envelope: EventEnvelope<object>, context: () => MeshContext) => unknown;

/** Providers that make Nest run an enhancer around every handler of the app. */
const GLOBAL_ENHANCER_TOKENS = ['APP_GUARD', 'APP_INTERCEPTOR', 'APP_PIPE'];

/**
 * The direct call of a handler, or why Nest's pipeline must run it: a guard, interceptor or
 * pipe on the method or its class, an app-wide one (APP_GUARD / APP_INTERCEPTOR / APP_PIPE), a
 * parameter other than a plain `@Payload()` / `@Ctx()`, or a controller that is not a singleton.
 * Exception filters do not matter: `@OnMeshEvent`'s catch-all KeepOriginalErrorFilter is the
 * method's own, so Nest always picks it, and it rethrows the handler's error unchanged — which
 * the direct call does by not catching it.
 */
export function directHandler(modules: ModulesContainer, target: MeshHandlerMethod): DirectHandler | string {
  const { controller, method } = target;
  const fn = (controller.prototype as Record<string | symbol, unknown>)[method];
  if (typeof fn !== 'function') return `${controller.name}.${String(method)} is not a method`;
  for (const key of [GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA]) {
    const declared = [
      ...((Reflect.getMetadata(key, controller) as unknown[]) ?? []),
      ...((Reflect.getMetadata(key, fn) as unknown[]) ?? []),
    ];
    if (declared.length > 0) return `${controller.name}.${String(method)} declares ${key}`;
  }
  const instances: unknown[] = [];
  for (const module of modules.values()) {
    for (const token of module.providers.keys()) {
      if (typeof token === 'string' && GLOBAL_ENHANCER_TOKENS.some((prefix) => token.startsWith(prefix))) {
        return `the app provides ${token}`;
      }
    }
    for (const wrapper of module.controllers.values()) {
      if (wrapper.metatype !== controller) continue;
      if (!wrapper.isDependencyTreeStatic() || !wrapper.instance) return `${controller.name} is not a singleton`;
      instances.push(wrapper.instance);
    }
  }
  if (instances.length !== 1) return `${controller.name} has ${instances.length} instances`;
  const instance = instances[0];
  const params = parameterPlan(controller, method);
  if (typeof params === 'string') return `${controller.name}.${String(method)}: ${params}`;
  const { payloadAt, contextAt, length } = params;
  const call = fn as (...args: unknown[]) => unknown;
  return (envelope, context) => {
    const args: unknown[] = new Array(length);
    for (const i of payloadAt) args[i] = envelope;
    for (const i of contextAt) args[i] = context();
    return call.apply(instance, args);
  };
}

interface ParameterPlan {
  readonly payloadAt: readonly number[];
  readonly contextAt: readonly number[];
  readonly length: number;
}

interface RouteArgument {
  readonly index: number;
  readonly data?: unknown;
  readonly pipes?: readonly unknown[];
}

/** Where the envelope and the context go; a string when a parameter needs Nest (a field of the payload, pipes, custom decorators). */
function parameterPlan(controller: Type<unknown>, method: string | symbol): ParameterPlan | string {
  const metadata = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) as
    Record<string, RouteArgument> | undefined;
  // Without parameter decorators Nest passes the payload as the first argument.
  if (!metadata) return { payloadAt: [0], contextAt: [], length: 1 };
  const payloadAt: number[] = [];
  const contextAt: number[] = [];
  let length = 0;
  for (const [key, argument] of Object.entries(metadata)) {
    const type = Number(key.split(':')[0]);
    if (argument.data !== undefined || (argument.pipes?.length ?? 0) > 0)
      return `parameter ${argument.index} has data or pipes`;
    if (type === RpcParamtype.PAYLOAD) payloadAt.push(argument.index);
    else if (type === RpcParamtype.CONTEXT) contextAt.push(argument.index);
    else return `parameter ${argument.index} is not @Payload() or @Ctx()`;
    length = Math.max(length, argument.index + 1);
  }
  return { payloadAt, contextAt, length };
}
