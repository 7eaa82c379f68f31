// The SDK's arguments as Pulumi inputs of the shared tree's declaration types (provider/model): a mapped
// type over a model interface keeps each field's doc and optionality, so each doc is written once, there.
import type * as pulumi from "@pulumi/pulumi";

/** An Input of a value; a list's items may be Inputs too. */
type InputOf<V> = [V] extends [readonly (infer E)[]] ? pulumi.Input<pulumi.Input<E>[]> : pulumi.Input<V>;

/** The fields of T, each an Input (with its doc and optionality from T). */
export type Inputs<T> = { [K in keyof T]: InputOf<NonNullable<T[K]>> };
