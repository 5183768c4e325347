/**
 * TypeDoc plugin that defines the router `method-pages`: the kind router of TypeDoc 0.28, except
 * that every method of an exported interface gets its own page (`methods/LogitKit.softmax.html`)
 * in place of an anchor on the interface's page. The operations of logitkit are the methods of
 * `LogitKit`, `LogitKitWorker` and `VocabAccumulator`, so each gets a page, as functions do.
 */
import { KindRouter, PageKind, Reflection, ReflectionKind } from "typedoc";

class MethodPageRouter extends KindRouter {
  directories = new Map([...this.directories, [ReflectionKind.Method, "methods"]]);

  getPageKind(target) {
    if (
      target instanceof Reflection &&
      target.kindOf(ReflectionKind.Method) &&
      target.parent?.kindOf(ReflectionKind.Interface)
    ) {
      return PageKind.Reflection;
    }
    return super.getPageKind(target);
  }
}

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.renderer.defineRouter("method-pages", MethodPageRouter);
}
