// Node resolve hook, test-time only: @kabelsalat/web (a dependency of @strudel/core) points `main` at an
// IIFE bundle that plain Node cannot import; its ES module build is dist/index.mjs.
export async function resolve(specifier, context, next) {
  if (specifier === '@kabelsalat/web') {
    return next(new URL('./node_modules/@kabelsalat/web/dist/index.mjs', import.meta.url).href, context);
  }
  return next(specifier, context);
}
